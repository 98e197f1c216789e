/* nlx-fuzz.h: what every libFuzzer harness shares */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <glib.h>

G_BEGIN_DECLS

int LLVMFuzzerTestOneInput (const uint8_t *data,
                            size_t size);

void nlx_fuzz_init (void);
const char *nlx_fuzz_scratch_dir (void);
char *nlx_fuzz_strndup (const uint8_t *data,
                        size_t size);
void nlx_fuzz_fail (const char *format,
                    ...) G_GNUC_PRINTF (1, 2) G_GNUC_NORETURN;

G_END_DECLS
