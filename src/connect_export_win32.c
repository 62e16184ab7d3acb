/* connect_export_win32.c - the Windows build reads no Connect export.
 *
 * The reader (connect_export.c) is libxml2's; the MinGW build does not carry
 * libxml2 (scripts/build-windows.sh builds only what the converter needs),
 * and a second reader over XmlLite would be a second parser to keep right.
 * `check --connect-config` is a look at a copied folder, not part of the
 * run after each cycle: the Linux build does it, from any machine the
 * folder is copied to. This says so instead of failing obscurely. */
#include "compat.h"

#include "connect_config.h"
#include "log.h"
#include "util.h"

int connect_export_load(const char *dir, struct connect_export *ex)
{
    memset(ex, 0, sizeof(*ex));
    ex->dir = xstrdup(dir);
    return log_error("%s: this Windows build of dualsync cannot read Connect's exported configuration "
                     "(it is built without an XML library); copy the folder to a Linux host and run "
                     "dualsync check --connect-config there (doc/deployment.md)", dir);
}
