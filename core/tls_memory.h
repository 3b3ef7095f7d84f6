/* OpenSSL's allocator for this process: blocks of 12 KiB and more on
 * pages of their own (see tls_memory.c for why). */
#ifndef WEFT_CORE_TLS_MEMORY_H
#define WEFT_CORE_TLS_MEMORY_H

/* Installs it; before any other OpenSSL call (once OpenSSL has allocated,
 * it fails and changes nothing). */
void tls_memory_init(void);

#endif
