/* A server holds a socket per public connection, per UDP peer and per
 * device session: it may use every descriptor the system lets it have. */
#ifndef WEFT_CORE_FDLIMIT_H
#define WEFT_CORE_FDLIMIT_H

/* Raises the soft limit on open files to the hard one. The new soft limit. */
long fdlimit_raise(void);

#endif
