/* libcurl's multi interface driven by a libuv loop: transfers run while
 * the loop serves everything else, instead of blocking it in
 * curl_easy_perform (curl_multi_socket_action, with a uv_poll per socket
 * and one uv_timer for libcurl's timeouts).
 *
 *   struct curl_loop *cl = curl_loop_new(loop);
 *   curl_loop_add(cl, easy, done, arg);   (easy set up as for perform)
 *   ... done(arg, easy, CURLE_OK or an error) runs later, from the loop;
 *       the handle is out of the multi by then and may be added again.
 *   curl_loop_remove(cl, easy);           (a transfer not wanted any more:
 *                                          done is never called for it)
 *   curl_loop_close(cl);                  (transfers still running are
 *                                          dropped without their done)
 */
#ifndef WEFT_NET_CURL_LOOP_H
#define WEFT_NET_CURL_LOOP_H

#include <curl/curl.h>
#include <stdbool.h>
#include <uv.h>

struct curl_loop;

typedef void (*curl_loop_done_cb)(void *arg, CURL *easy, CURLcode result);

/* NULL if libcurl's multi handle could not be made. */
struct curl_loop *curl_loop_new(uv_loop_t *loop);

/* Starts easy's transfer. 0, or -1 (it is not started; done never runs). */
int curl_loop_add(struct curl_loop *cl, CURL *easy, curl_loop_done_cb done,
                  void *arg);

/* Stops easy's transfer if it is running; its done is never called. */
void curl_loop_remove(struct curl_loop *cl, CURL *easy);

/* The loop it runs on. */
uv_loop_t *curl_loop_uv(const struct curl_loop *cl);

/* How many transfers are running. */
unsigned curl_loop_running(const struct curl_loop *cl);

/* Drops every transfer (no done is called) and frees cl once the loop has
 * closed its handles. */
void curl_loop_close(struct curl_loop *cl);

#endif
