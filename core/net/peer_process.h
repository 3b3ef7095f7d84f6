/* Whether a loopback TCP connection comes from a given process of this
 * host. A loopback port is open to every local user: a listener meant for
 * one child process (the console terminal's ssh) checks who connected. */
#ifndef WEFT_CORE_PEER_PROCESS_H
#define WEFT_CORE_PEER_PROCESS_H

#include <stdbool.h>
#include <stdint.h>

/* True when the connection from 127.0.0.1:peer_port to 127.0.0.1:
 * local_port is a socket that process pid holds. Linux only: the socket's
 * inode from /proc/self/net/tcp, then that inode among /proc/PID/fd. */
bool peer_is_process(int pid, uint16_t peer_port, uint16_t local_port);

#endif
