/* Unit tests for the platform layer (platform_posix.c, platform_win32.c): the
 * same contract on both, run natively and, for the Windows build, under Wine
 * (make windows-unit). Atomic replace and file identity, append after a
 * truncate, owner-only files and secret files (mode 0600, or the DACL),
 * credentials from the OS store, and the lock across processes, including a
 * holder that dies without letting go. */
#include "compat.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "capture.h"
#include "platform.h"
#include "testplat.h"
#include "util.h"

static const char *self;            /* argv[0]: this test, run again as a child */
static char dir[] = "/tmp/dualsync-test-platform-XXXXXX";

static char *in_dir(const char *name)
{
    return xasprintf("%s/%s", dir, name);
}

static char *slurp(const char *path)
{
    struct strbuf sb = STRBUF_INIT;
    if (platform_read_file(path, &sb, NULL) != 0)
        return NULL;
    return strbuf_detach(&sb);
}

static void spit(const char *path, const char *text)
{
    struct platform_file *f;
    assert_int_equal(platform_remove(path), 0);
    assert_int_equal(platform_file_open(path, PLATFORM_CREATE_NEW, &f), 0);
    assert_int_equal(platform_file_write(f, text, strlen(text)), 0);
    assert_int_equal(platform_file_close(f), 0);
}

/* How many entries the test directory holds (its subdirectories too). */
static int count_files(void)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void atomic_write_replaces_the_file(void **state)
{
    (void)state;
    char *p = in_dir("state");
    struct strbuf sb = STRBUF_INIT;
    struct platform_file_id id1, id2, now;
    assert_int_equal(platform_read_file(p, &sb, &id1), 1);       /* missing: 1, quietly */
    assert_int_equal(platform_file_identity(p, &id1), 1);

    assert_int_equal(platform_write_file_atomic(p, "one\n", 4), 0);
    assert_int_equal(platform_read_file(p, &sb, &id1), 0);
    assert_string_equal(sb.buf, "one\n");
    assert_int_equal(sb.len, 4);
    assert_int_equal(platform_file_identity(p, &now), 0);
    assert_memory_equal(&now, &id1, sizeof(now));

    /* a new file took its place: another identity, nothing left beside it */
    assert_int_equal(platform_write_file_atomic(p, "two, longer\n", 12), 0);
    assert_int_equal(platform_read_file(p, &sb, &id2), 0);
    assert_string_equal(sb.buf, "two, longer\n");
    assert_true(id1.index != id2.index || id1.volume != id2.volume);
    assert_int_equal(count_files(), 1);
    char *tmp = in_dir("state.new");

    /* replace: the target has the source's bytes, the source is gone */
    spit(tmp, "three\n");
    assert_int_equal(platform_replace(tmp, p), 0);
    assert_int_equal(platform_sync_dir(p), 0);
    assert_int_equal(platform_file_identity(tmp, &now), 1);
    assert_int_equal(platform_read_file(p, &sb, NULL), 0);
    assert_string_equal(sb.buf, "three\n");

    assert_int_equal(platform_remove(p), 0);
    assert_int_equal(platform_remove(p), 0);                     /* missing is fine */
    assert_int_equal(platform_file_identity(p, &now), 1);
    strbuf_release(&sb);
    free(tmp);
    free(p);
}

/* A link planted where a writer would create its file is never written
 * through: not at the fixed "<path>.new" an older atomic write used, not by
 * CREATE_NEW, dangling or not. Failed before: the atomic write opened
 * <path>.new with O_TRUNC and no O_EXCL or O_NOFOLLOW, and wrote the victim. */
static void links_are_not_followed(void **state)
{
    (void)state;
    char *p = in_dir("state"), *victim = in_dir("victim"), *link = in_dir("state.new");
    char *dangling = in_dir("dangling"), *nowhere = in_dir("nowhere");
    spit(victim, "precious\n");
    const char *cannot = testplat_symlink(victim, link);
    if (cannot) {
        print_message("skipped: %s\n", cannot);
        platform_remove(link);
        platform_remove(victim);
        skip();
    }
    assert_int_equal(platform_write_file_atomic(p, "new\n", 4), 0);
    char *t = slurp(victim);
    assert_string_equal(t, "precious\n");
    free(t);
    t = slurp(p);
    assert_string_equal(t, "new\n");
    free(t);

    struct platform_file *f;
    assert_int_equal(platform_file_open(link, PLATFORM_CREATE_NEW, &f), -1);
    t = slurp(victim);
    assert_string_equal(t, "precious\n");
    free(t);
    assert_null(testplat_symlink(nowhere, dangling));
    assert_int_equal(platform_file_open(dangling, PLATFORM_CREATE_NEW, &f), -1);
    assert_int_equal(platform_file_identity(nowhere, &(struct platform_file_id){ 0 }), 1);

    assert_int_equal(platform_remove(link), 0);
    assert_int_equal(platform_remove(dangling), 0);
    assert_int_equal(platform_remove(victim), 0);
    assert_int_equal(platform_remove(p), 0);
    assert_int_equal(count_files(), 0);
    free(p);
    free(victim);
    free(link);
    free(dangling);
    free(nowhere);
}

/* A write that fails (the disk full, the rename refused) leaves the old
 * file as it was and no temporary file behind. */
static void a_failed_write_changes_nothing(void **state)
{
    (void)state;
    char *p = in_dir("kept"), *sub = in_dir("adir"), *inside = in_dir("adir/x");
    spit(p, "old\n");
    static char big[256 * 1024];
    memset(big, 'x', sizeof(big));
    const char *cannot = testplat_limit_file_size(4096);
    if (cannot) {
        print_message("no failed write: %s\n", cannot);
    } else {
        int rc = platform_write_file_atomic(p, big, sizeof(big));
        assert_null(testplat_limit_file_size(-1));
        assert_int_equal(rc, -1);
        char *t = slurp(p);
        assert_string_equal(t, "old\n");
        free(t);
        assert_int_equal(count_files(), 1);
    }
    /* the rename fails: a directory is where the file would go */
    assert_int_equal(platform_mkdir(sub), 0);
    spit(inside, "in\n");
    capture_start();
    int rc = platform_write_file_atomic(sub, "file\n", 5);
    char *said = capture_end();
    assert_int_equal(rc, -1);
    char *t = slurp(inside);
    assert_string_equal(t, "in\n");
    free(t);
    assert_int_equal(count_files(), 2);
    /* said as what it is, not as a file some other program holds open
     * (Windows answers ERROR_ACCESS_DENIED for both) */
    if (!strstr(said, "is a directory") || strstr(said, "another program"))
        fail_msg("the rename onto a directory was reported as: %s", said);
    free(said);

    /* what a killed writer left is swept, and only that */
    char *left = in_dir("kept.tmp-0123456789ab"), *other = in_dir("kept.tmpx");
    spit(left, "half");
    spit(other, "other");
    assert_int_equal(platform_atomic_sweep(p), 0);
    assert_int_equal(count_files(), 3);
    assert_int_equal(platform_file_identity(left, &(struct platform_file_id){ 0 }), 1);
    assert_int_equal(platform_file_identity(other, &(struct platform_file_id){ 0 }), 0);

    assert_int_equal(platform_remove(other), 0);
    free(left);
    free(other);
    assert_int_equal(platform_remove(inside), 0);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(platform_remove(p), 0);
    free(p);
    free(sub);
    free(inside);
}

static void append_goes_after_a_truncate(void **state)
{
    (void)state;
    char *p = in_dir("journal");
    spit(p, "abc");
    struct platform_file *f;
    assert_int_equal(platform_file_open(p, PLATFORM_APPEND, &f), 0);
    assert_int_equal(platform_file_write(f, "def", 3), 0);
    assert_int_equal(platform_file_sync(f), 0);
    char *t = slurp(p);
    assert_string_equal(t, "abcdef");            /* no user-space buffer: in the file now */
    free(t);
    assert_int_equal(platform_file_truncate(f, 2), 0);
    assert_int_equal(platform_file_write(f, "X\n", 2), 0);
    assert_int_equal(platform_file_close(f), 0);
    t = slurp(p);
    assert_string_equal(t, "abX\n");
    free(t);
    /* CREATE_NEW is new: an existing file is refused and left as it is */
    assert_int_equal(platform_file_open(p, PLATFORM_CREATE_NEW, &f), -1);
    t = slurp(p);
    assert_string_equal(t, "abX\n");
    free(t);
    assert_int_equal(platform_file_close(NULL), 0);
    platform_remove(p);
    free(p);
}

static void files_are_owner_only(void **state)
{
    (void)state;
    char why[512];
    char *made = in_dir("made");
    char *atomic = in_dir("atomic");
    spit(made, "x");
    assert_int_equal(platform_write_file_atomic(atomic, "y", 1), 0);
    assert_int_equal(platform_check_secret_file(made, why, sizeof(why)), 0);
    assert_int_equal(platform_check_secret_file(atomic, why, sizeof(why)), 0);

    /* wider than its owner: refused with the reason and the remedy */
    assert_int_equal(chmod(made, 0644), 0);
    assert_int_equal(platform_check_secret_file(made, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "is readable by "));
    assert_non_null(strstr(why, "; run: "));

    /* a missing file is not an error yet; a directory is */
    char *missing = in_dir("missing");
    assert_int_equal(platform_check_secret_file(missing, why, sizeof(why)), 0);
    assert_int_equal(platform_check_secret_file(dir, why, sizeof(why)), -1);
    platform_remove(made);
    platform_remove(atomic);
    free(made);
    free(atomic);
    free(missing);
}

/* Opening a file for writing narrows it to its owner again (one restored
 * from a backup with a wider mode or DACL). */
static void open_narrows_a_wide_file(void **state)
{
    (void)state;
    char why[512];
    char *p = in_dir("wide");
    spit(p, "x");
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(platform_check_secret_file(p, why, sizeof(why)), -1);
    const char *cannot = testplat_cannot_narrow();
    if (cannot) {
        print_message("skipped: %s\n", cannot);
        platform_remove(p);
        free(p);
        skip();
    }
    struct platform_file *f;
    assert_int_equal(platform_file_open(p, PLATFORM_APPEND, &f), 0);
    assert_int_equal(platform_file_close(f), 0);
    if (platform_check_secret_file(p, why, sizeof(why)))
        fail_msg("%s", why);
    platform_remove(p);
    free(p);
}

static void secret_files(void **state)
{
    (void)state;
    char *p = in_dir("secret");
    struct strbuf s = STRBUF_INIT;
    spit(p, "s3cret\r\n");
    assert_int_equal(platform_read_secret_file(p, "client secret", &s), 0);
    assert_string_equal(s.buf, "s3cret");
    platform_wipe(&s);
    assert_null(s.buf);

    spit(p, "\n");
    assert_int_equal(platform_read_secret_file(p, "client secret", &s), -1);
    assert_null(s.buf);

    spit(p, "s3cret");
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(platform_read_secret_file(p, "client secret", &s), -1);
    assert_int_equal(s.len, 0);

    char *missing = in_dir("missing");
    assert_int_equal(platform_read_secret_file(missing, "client secret", &s), -1);
    platform_remove(p);
    free(p);
    free(missing);
}

static void secrets_from_the_credential_store(void **state)
{
    (void)state;
    char why[512];
    char *creds = in_dir("credentials");
    assert_int_equal(platform_check_secret_file("credential:dualsync-test-none", why, sizeof(why)), 0);
    assert_int_equal(testplat_store_credential("dualsync-test-secret", "p\xc3\xa4ss word", dir), 0);
    struct strbuf s = STRBUF_INIT;
    assert_int_equal(platform_read_secret_file("credential:dualsync-test-secret", "password", &s), 0);
    assert_string_equal(s.buf, "p\xc3\xa4ss word");
    platform_wipe(&s);
    assert_int_equal(platform_read_secret_file("credential:dualsync-test-none", "password", &s), -1);
    char *file = in_dir("dualsync-test-secret");
    platform_remove(file);
    free(file);
    free(creds);
}

/* The child: take the lock at path, write "RC HOLDER" to result, and either
 * let go ("try") or die holding it ("die"). */
static int lock_child(const char *path, const char *result, const char *mode)
{
    struct platform_lock *l = NULL;
    long holder = 0;
    int rc = platform_lock_acquire(path, &l, &holder);
    char line[64];
    int n = snprintf(line, sizeof(line), "%d %ld %ld\n", rc, holder, platform_pid());
    if (platform_write_file_atomic(result, line, (size_t)n))
        return 3;
    if (!strcmp(mode, "die"))
        _Exit(7);                   /* no release, no exit handlers */
    platform_lock_release(l);
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's names as they are, whatever the ANSI code page: a folder
 * and files named outside it (the Connect export under a profile such as
 * C:\Users\Jürgen), neither "." nor ".."; a missing folder and a file are
 * "no such directory", not an error. */
static void lists_a_directory(void **state)
{
    (void)state;
    char *sub = in_dir("Z\xc3\xbcrich \xce\xa9");                   /* "Zürich Ω" */
    char *a = xasprintf("%s/Connector_{\xc3\xa9}.xml", sub), *b = xasprintf("%s/MV.xml", sub);
    assert_int_equal(platform_mkdir(sub), 0);
    spit(a, "<a/>");
    spit(b, "<b/>");
    char **names;
    size_t n;
    assert_int_equal(platform_list_dir(sub, &names, &n), 0);
    assert_int_equal(n, 2);
    qsort(names, n, sizeof(*names), cmp_name);
    assert_string_equal(names[0], "Connector_{\xc3\xa9}.xml");
    assert_string_equal(names[1], "MV.xml");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    char *missing = in_dir("no-such-folder");
    assert_int_equal(platform_list_dir(missing, &names, &n), 1);
    assert_null(names);
    assert_int_equal(n, 0);
    assert_int_equal(platform_list_dir(a, &names, &n), 1);
    assert_int_equal(platform_remove(a), 0);
    assert_int_equal(platform_remove(b), 0);
    assert_int_equal(rmdir(sub), 0);
    free(missing);
    free(a);
    free(b);
    free(sub);
}

static void run_lock_child(const char *lock, const char *result, const char *mode, int want_exit,
                           int *rc, long *holder, long *pid)
{
    platform_remove(result);
    char *cmd = xasprintf("%s --lock-child %s %s %s", self, lock, result, mode);
    assert_int_equal(testplat_run(cmd), want_exit);
    char *text = slurp(result);
    assert_non_null(text);
    assert_int_equal(sscanf(text, "%d %ld %ld", rc, holder, pid), 3);
    free(text);
    free(cmd);
}

static void lock_across_processes(void **state)
{
    (void)state;
    char *lock = in_dir("t.lock"), *result = in_dir("result");
    struct platform_lock *l = NULL, *l2 = NULL;
    long holder = -1, child_holder, child_pid;
    int child_rc;
    assert_int_equal(platform_lock_acquire(lock, &l, &holder), 0);
    assert_non_null(l);
    /* the file names the holder, for people */
    char *text = slurp(lock);
    char *me = xasprintf("%ld\n", platform_pid());
    assert_string_equal(text, me);
    free(text);

    /* a second open in this process is refused too */
    assert_int_equal(platform_lock_acquire(lock, &l2, &holder), 1);
    assert_int_equal(holder, platform_pid());

    /* another process is refused and told who holds it */
    run_lock_child(lock, result, "try", 0, &child_rc, &child_holder, &child_pid);
    assert_int_equal(child_rc, 1);
    assert_int_equal(child_holder, platform_pid());
    assert_true(child_pid != platform_pid());

    /* released: the child gets it, and dies holding it; the OS lets go */
    platform_lock_release(l);
    run_lock_child(lock, result, "die", 7, &child_rc, &child_holder, &child_pid);
    assert_int_equal(child_rc, 0);
    text = slurp(lock);
    char *dead = xasprintf("%ld\n", child_pid);
    assert_string_equal(text, dead);            /* the dead holder's pid stays */
    assert_int_equal(platform_lock_acquire(lock, &l, &holder), 0);
    platform_lock_release(l);
    platform_lock_release(NULL);
    free(text);
    free(dead);
    free(me);
    free(lock);
    free(result);
}

int main(int argc, char **argv)
{
    platform_init();
    platform_args(&argc, &argv);
    if (argc == 5 && !strcmp(argv[1], "--lock-child"))
        return lock_child(argv[2], argv[3], argv[4]);
    self = argv[0];
    assert_non_null(mkdtemp(dir));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(atomic_write_replaces_the_file),
        cmocka_unit_test(links_are_not_followed),
        cmocka_unit_test(a_failed_write_changes_nothing),
        cmocka_unit_test(append_goes_after_a_truncate),
        cmocka_unit_test(files_are_owner_only),
        cmocka_unit_test(open_narrows_a_wide_file),
        cmocka_unit_test(secret_files),
        cmocka_unit_test(secrets_from_the_credential_store),
        cmocka_unit_test(lists_a_directory),
        cmocka_unit_test(lock_across_processes),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    char *creds = in_dir("credentials");
    rmdir(dir);
    free(creds);
    return rc;
}
