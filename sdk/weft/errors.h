/* Weft SDK: the one error table.
 *
 * Every Weft function that can fail returns 0 on success or one of these
 * negative codes, as libuv does. The numbers are fixed here (they are Linux
 * errno values where one fits, 4000+ for Weft's own) so that they are part of
 * the ABI and never depend on the platform's <errno.h>.
 *
 * Names and messages are generated from the list below; add a code by adding
 * one line at the end of the list.
 */
#ifndef WEFT_ERRORS_H
#define WEFT_ERRORS_H

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_ERRNO_MAP(XX)                                                   \
  XX(ENOENT, -2, "no such file, tunnel or entry")                            \
  XX(EIO, -5, "input/output error")                                          \
  XX(EAGAIN, -11, "resource temporarily unavailable")                        \
  XX(ENOMEM, -12, "out of memory")                                           \
  XX(EACCES, -13, "permission denied")                                       \
  XX(EEXIST, -17, "already exists")                                          \
  XX(EINVAL, -22, "invalid argument")                                        \
  XX(ERANGE, -34, "value out of range")                                      \
  XX(ENOSYS, -38, "function not implemented")                                \
  XX(EPROTO, -71, "protocol error")                                          \
  XX(EMSGSIZE, -90, "message too long")                                      \
  XX(ENOTSUP, -95, "operation not supported")                                \
  XX(EADDRINUSE, -98, "address already in use")                              \
  XX(ECONNRESET, -104, "connection reset by peer")                           \
  XX(ETIMEDOUT, -110, "timed out")                                           \
  XX(ECONNREFUSED, -111, "connection refused")                               \
  XX(ECANCELED, -125, "operation canceled")                                  \
  XX(ENOTBUILT, -4001, "this transport does not implement that yet")         \
  XX(EABI, -4002, "plugin built for another ABI")                            \
  XX(EAUTH, -4003, "authentication failed")                                  \
  XX(EDENIED, -4004, "refused by access control")                            \
  XX(ETOKEN, -4005, "token invalid, expired or already used")                \
  XX(ELIMIT, -4006, "limit reached")                                         \
  XX(ECONFIG, -4007, "invalid configuration")

enum weft_errno {
#define WEFT_ERRNO_ENUM_(name, value, message) WEFT_##name = (value),
  WEFT_ERRNO_MAP(WEFT_ERRNO_ENUM_)
#undef WEFT_ERRNO_ENUM_
  WEFT_OK = 0
};

/* "EINVAL" for WEFT_EINVAL; "UNKNOWN" for a code not in the table. */
static inline const char *weft_err_name(int err)
{
  switch (err) {
  case 0: return "OK";
#define WEFT_ERRNO_NAME_(name, value, message) case (value): return #name;
  WEFT_ERRNO_MAP(WEFT_ERRNO_NAME_)
#undef WEFT_ERRNO_NAME_
  default: return "UNKNOWN";
  }
}

/* A short lower-case message for the code, never NULL. */
static inline const char *weft_strerror(int err)
{
  switch (err) {
  case 0: return "success";
#define WEFT_ERRNO_MSG_(name, value, message) case (value): return message;
  WEFT_ERRNO_MAP(WEFT_ERRNO_MSG_)
#undef WEFT_ERRNO_MSG_
  default: return "unknown error";
  }
}

#ifdef __cplusplus
}
#endif

#endif /* WEFT_ERRORS_H */
