/* replay.c - a fuzz target's LLVMFuzzerTestOneInput run over files, without
 * libFuzzer: `make check` builds every target of tests/fuzz/ this way with
 * the project's own compiler and objects (`make fuzz-replay`) and feeds it
 * the inputs kept in the tree. A target that no longer builds or links, or
 * that aborts on an input it once took, then fails the check instead of
 * waiting for the next person who runs a fuzzer with clang.
 *
 *   replay [FILE|DIR]...   every regular file named, or inside a DIR (not
 *                          recursive); no argument: one empty input */
#include "compat.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static size_t inputs;

static void one(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap)
            buf = realloc(buf, cap *= 2);
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "%s: cannot read it\n", path);
        exit(2);
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    inputs++;
}

int main(int argc, char **argv)
{
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    if (argc < 2) {
        LLVMFuzzerTestOneInput((const uint8_t *)"", 0);
        inputs++;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st)) {
            perror(argv[i]);
            return 2;
        }
        if (!S_ISDIR(st.st_mode)) {
            one(argv[i]);
            continue;
        }
        DIR *d = opendir(argv[i]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
            if (!stat(path, &st) && S_ISREG(st.st_mode))
                one(path);
        }
        if (d)
            closedir(d);
    }
    printf("replay %s: %zu inputs\n", argv[0], inputs);
    return 0;
}
