/* OpenSSL's allocator for this process: blocks of 12 KiB and more on
 * pages of their own (see openssl_alloc.c for why). */
#ifndef WEFT_CORE_OPENSSL_ALLOC_H
#define WEFT_CORE_OPENSSL_ALLOC_H

/* Installs it; before any other OpenSSL call (once OpenSSL has allocated,
 * it fails and changes nothing). */
void openssl_alloc_init(void);

#endif
