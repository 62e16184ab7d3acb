/* sys/resource.h for the Windows unit tests (shim.h): no per-process file
 * size limit on Windows; setrlimit skips the test that needs one */
#ifndef DUALSYNC_TEST_SYS_RESOURCE_H
#define DUALSYNC_TEST_SYS_RESOURCE_H
#include <signal.h>
struct rlimit {
    unsigned long long rlim_cur, rlim_max;
};
#define RLIMIT_FSIZE 1
#ifndef SIGXFSZ
#define SIGXFSZ 25
#endif
int shim_skip(const char *what, const char *file, int line);
#define setrlimit(res, rl) ((void)(res), (void)(rl), shim_skip("setrlimit()", __FILE__, __LINE__))
#endif
