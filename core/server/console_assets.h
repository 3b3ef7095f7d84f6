/* The web console's files, embedded at build time (scripts/embed_ui.py
 * writes console_assets.c from ui/). */
#ifndef WEFT_SERVER_CONSOLE_ASSETS_H
#define WEFT_SERVER_CONSOLE_ASSETS_H

#include <stddef.h>

struct console_asset {
  const char *path;         /* "/ui/app.js"; "/ui/" is the page */
  const char *content_type;
  const unsigned char *data;
  size_t len;
};

/* Ends with an entry whose path is NULL. */
extern const struct console_asset console_assets[];

#endif
