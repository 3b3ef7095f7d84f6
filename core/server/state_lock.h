/* One server per state directory: an exclusive lock (flock) on
 * STATE_DIR/weft.lock, taken before anything else in the directory is
 * touched (secrets, the store, plugins' state and their clean-up of what a
 * previous run left), and held until the process ends. The file holds the
 * holder's PID, so that a second server can say whose it is. */
#ifndef WEFT_CORE_STATE_LOCK_H
#define WEFT_CORE_STATE_LOCK_H

#include <stddef.h>

/* Takes the lock: its descriptor (close-on-exec, so no child inherits it),
 * or -1 with err naming the PID that holds it, or why it could not be
 * taken. */
int state_lock_take(const char *state_dir, char *err, size_t errlen);

/* Gives it back (the process's end does too). */
void state_lock_release(int fd);

#endif
