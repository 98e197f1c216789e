/* nlx-test-client.h: talking to nova-lxc-compute in tests, over HTTP */
#pragma once

#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

G_BEGIN_DECLS

guint nlx_test_call_full (SoupSession *session,
                          const char *base,
                          const char *method,
                          const char *path,
                          const char *body,
                          const char *header,
                          const char *value,
                          JsonNode **reply,
                          SoupMessageHeaders **response_headers);
void nlx_test_session_set_version (SoupSession *session,
                                   const char *version);
guint nlx_test_call (SoupSession *session,
                     const char *method,
                     const char *path,
                     const char *body,
                     JsonNode **reply);
JsonObject *nlx_test_object_at (JsonNode *node,
                                const char *member);
void nlx_test_assert_fault (JsonNode *reply,
                            const char *name,
                            guint status);
void nlx_test_expect_fault (SoupSession *session,
                            const char *method,
                            const char *path,
                            const char *body,
                            guint status,
                            const char *name);
char *nlx_test_create_on_flavor (SoupSession *session,
                                 const char *name,
                                 const char *flavor,
                                 const char *image,
                                 const char *extra);
char *nlx_test_create (SoupSession *session,
                       const char *name,
                       const char *image,
                       const char *extra);
JsonNode *nlx_test_show (SoupSession *session,
                         const char *id);
char *nlx_test_status_of (SoupSession *session,
                          const char *id);
void nlx_test_wait_for_status (SoupSession *session,
                               const char *id,
                               const char *wanted);
guint nlx_test_act (SoupSession *session,
                    const char *id,
                    const char *body);
void nlx_test_act_and_wait (SoupSession *session,
                            const char *id,
                            const char *body,
                            const char *task_state,
                            const char *after);
void nlx_test_delete_and_wait (SoupSession *session,
                               const char *id);
char *nlx_test_create_image (SoupSession *session,
                             const char *server,
                             const char *body);

SoupWebsocketConnection *nlx_test_ws_connect (SoupSession *session,
                                              const char *url,
                                              guint *status);
char *nlx_test_ws_read_until (SoupWebsocketConnection *ws,
                              const char *wanted,
                              guint timeout_s);
gboolean nlx_test_ws_wait_closed (SoupWebsocketConnection *ws,
                                  guint timeout_s);
GSocket *nlx_test_raw_connect (const char *socket_path,
                               guint tcp_port);

G_END_DECLS
