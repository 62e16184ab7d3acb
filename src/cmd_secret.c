/* cmd_secret.c - protect-secret FILE: a secret file protected with DPAPI
 * (doc/deployment.md), which platform_read_secret_file decrypts where the
 * config names it (client_secret_file, password_file).
 *
 * The secret comes from standard input, never from the command line (argv
 * is visible to every process of the machine). FILE is written atomically
 * and readable by its owner, SYSTEM and Administrators only, like the
 * mapping files. */
#include "compat.h"

#include "cli.h"
#include "commands.h"
#include "log.h"
#include "platform.h"
#include "util.h"

int cmd_protect_secret(const struct cli *cli)
{
    if (cli->nargs != 1) {
        log_error("protect-secret needs one FILE: the secret file to write, e.g. "
                  "dualsync protect-secret C:\\ProgramData\\dualsync\\gcch-app.secret "
                  "(the secret is read from standard input)");
        return EXIT_USAGE;
    }
    const char *path = cli->args[0];
    struct strbuf secret = STRBUF_INIT, blob = STRBUF_INIT;
    int rc = EXIT_STOPPED;
    if (platform_read_secret_stdin("secret: ", &secret) == 0
        && platform_protect_secret(secret.buf, secret.len, !cli->user_scope, &blob) == 0
        && platform_write_file_atomic(path, blob.buf, blob.len) == 0) {
        log_info("%s: the secret, protected with DPAPI for %s", path,
                 cli->user_scope ? "this account only" : "this machine (guard the file's ACL)");
        rc = EXIT_DONE;
    }
    platform_wipe(&secret);
    strbuf_release(&blob);
    return rc;
}
