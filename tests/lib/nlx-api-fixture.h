/* nlx-api-fixture.h: the fixture of the API tests on the fake driver
 * (tests/test-api-*.c)
 *
 * The daemon's layers run in a thread of their own with the fake driver
 * (each change takes [fake] delay_ms, so operations can be seen in
 * progress); the tests talk to them over the Unix socket as any client
 * would. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include "lib/nlx-test-daemon.h"

#define DELAY_MS 150

typedef struct {
  char *dir;
  char *socket;
  char *config_text;
  /* Of the manager, tests touch only the store. */
  NlxTestDaemon daemon;
  SoupSession *session;
} Fixture;

void fixture_set_up (Fixture *f,
                     gconstpointer extra_config);
void fixture_tear_down (Fixture *f,
                        gconstpointer data);

GHashTable *snapshot_tree (const char *dir);
void assert_same_tree (GHashTable *before,
                       GHashTable *after);

void assert_no_state_path (Fixture *f,
                           JsonNode *reply);
void wait_for_connections (Fixture *f,
                           guint wanted);
guint server_count (Fixture *f);

#define CREATE_BODY(extra) \
  "{\"server\": {\"name\": \"x\", \"flavorRef\": \"m1.tiny\", " \
  "\"imageRef\": \"test-image\"" extra "}}"
