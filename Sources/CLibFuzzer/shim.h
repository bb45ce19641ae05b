// libFuzzer's driver entry point (compiler-rt's FuzzerInterface.h), for the fuzz target's own `main`. Only a
// declaration: it links only in the libFuzzer build (scripts/fuzz), and only that build calls it.
#ifndef IDLEWATCH_CLIBFUZZER_SHIM_H
#define IDLEWATCH_CLIBFUZZER_SHIM_H
#include <stddef.h>
#include <stdint.h>
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*UserCb)(const uint8_t *Data, size_t Size));
#endif
