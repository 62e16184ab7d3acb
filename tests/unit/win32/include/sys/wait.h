/* sys/wait.h for the Windows unit tests (shim.h): never reached, fork() skips */
#ifndef DUALSYNC_TEST_SYS_WAIT_H
#define DUALSYNC_TEST_SYS_WAIT_H
#define WIFEXITED(s) 1
#define WEXITSTATUS(s) ((s) & 0xff)
#endif
