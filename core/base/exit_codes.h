/* Process exit codes, documented in `weft help` and docs/cli.md. */
#ifndef WEFT_CORE_EXIT_CODES_H
#define WEFT_CORE_EXIT_CODES_H

enum weft_exit {
  EXIT_OK = 0,
  EXIT_RUNTIME = 1,   /* something failed while running */
  EXIT_USAGE = 2,     /* bad command line */
  EXIT_CONFIG = 3,    /* weft.conf, or a value given on the command line */
  EXIT_TRANSPORT = 4, /* the transport asked for is missing or cannot do it */
  EXIT_ENDED = 5,     /* the server ended every tunnel for good (deleted) */
};

#endif
