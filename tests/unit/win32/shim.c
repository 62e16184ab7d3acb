/* shim.c - the POSIX calls of the unit tests on Windows (see shim.h). */
#include "compat.h"

#include <windows.h>
#include <aclapi.h>
#include <direct.h>
#include <errno.h>
#include <sddl.h>

void _skip(const char *const file, const int line);   /* cmocka */

int shim_skip(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: %s has no Windows equivalent: test skipped\n", file, line, what);
    _skip(file, line);
    return -1;
}

int shim_waitpid(int pid, int *status, int options)
{
    (void)pid;
    (void)options;
    *status = 0;
    return -1;
}

char *mkdtemp(char *templ)
{
    size_t n = strlen(templ);
    if (n < 6 || strcmp(templ + n - 6, "XXXXXX"))
        return errno = EINVAL, NULL;
    for (int tries = 0; tries < 100; tries++) {
        unsigned v = (unsigned)GetTickCount() * 2654435761u ^ (unsigned)GetCurrentProcessId() ^
                     (unsigned)tries * 40503u;
        for (int i = 0; i < 6; i++) {
            templ[n - 6 + i] = "abcdefghijklmnopqrstuvwxyz0123456789"[v % 36];
            v = v / 36 + 7919u * (unsigned)i;
        }
        if (_mkdir(templ) == 0)
            return templ;
        if (errno != EEXIST)
            return NULL;
    }
    return NULL;
}

int shim_mkdir(const char *path, int mode)
{
    (void)mode;
    return _mkdir(path);
}

int setenv(const char *name, const char *value, int overwrite)
{
    if (!overwrite && getenv(name))
        return 0;
    return _putenv_s(name, value) ? -1 : 0;
}

int alphasort(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

int scandir(const char *dir, struct dirent ***names, int (*filter)(const struct dirent *),
            int (*compare)(const struct dirent **, const struct dirent **))
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent **v = NULL, *e;
    size_t n = 0, alloc = 0;
    while ((e = readdir(d))) {
        if (filter && !filter(e))
            continue;
        if (n == alloc) {
            alloc = alloc ? 2 * alloc : 16;
            v = realloc(v, alloc * sizeof(*v));
        }
        v[n] = malloc(sizeof(*e));
        memcpy(v[n++], e, sizeof(*e));
    }
    closedir(d);
    if (compare && n)
        qsort(v, n, sizeof(*v), (int (*)(const void *, const void *))compare);
    *names = v;
    return (int)n;
}

static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
    wchar_t *w = malloc((size_t)n * sizeof(*w));
    MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
    return w;
}

int shim_rmdir(const char *path)
{
    wchar_t *w = wide(path);
    BOOL ok = RemoveDirectoryW(w);
    free(w);
    return ok ? 0 : (errno = ENOENT, -1);
}

/* Does an ACE of the DACL give an account other than the owner, SYSTEM and
 * Administrators the right to read (04) or write (02)? */
static int others_bits(const wchar_t *path)
{
    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    if (GetNamedSecurityInfoW(path, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                              &owner, NULL, &dacl, NULL, &sd) != ERROR_SUCCESS)
        return 0;
    int bits = dacl ? 0 : 06;
    for (DWORD i = 0; dacl && i < dacl->AceCount; i++) {
        ACE_HEADER *h;
        if (!GetAce(dacl, i, (void **)&h) || h->AceType != ACCESS_ALLOWED_ACE_TYPE
            || (h->AceFlags & INHERIT_ONLY_ACE))
            continue;
        ACCESS_ALLOWED_ACE *a = (ACCESS_ALLOWED_ACE *)h;
        PSID sid = (PSID)&a->SidStart;
        if ((owner && EqualSid(sid, owner)) || IsWellKnownSid(sid, WinLocalSystemSid)
            || IsWellKnownSid(sid, WinBuiltinAdministratorsSid))
            continue;
        if (a->Mask & (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL))
            bits |= 04;
        if (a->Mask & (FILE_WRITE_DATA | FILE_APPEND_DATA | GENERIC_WRITE | GENERIC_ALL))
            bits |= 02;
    }
    LocalFree(sd);
    return bits;
}

#undef stat
int shim_stat(const char *path, struct stat *st)
{
    if (stat(path, st))
        return -1;
    wchar_t *w = wide(path);
    int others = others_bits(w);
    st->st_mode = (unsigned short)((st->st_mode & ~0777) | (st->st_mode & 0700) | others << 3 | others);
    HANDLE h = CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    if (h != INVALID_HANDLE_VALUE) {
        BY_HANDLE_FILE_INFORMATION info;
        /* st_ino is 16 bits here: a fold of the 64-bit file index */
        if (GetFileInformationByHandle(h, &info))
            st->st_ino = (_ino_t)(info.nFileIndexLow ^ info.nFileIndexLow >> 16 ^ info.nFileIndexHigh);
        CloseHandle(h);
    }
    free(w);
    return 0;
}

/* The DACL a POSIX mode means: the owner, SYSTEM and Administrators as
 * platform_win32.c sets them, and Everyone for the group/other read bit. */
int shim_chmod(const char *path, int mode)
{
    HANDLE token;
    union {
        TOKEN_USER user;
        unsigned char raw[256];
    } u;
    DWORD len;
    wchar_t *me = NULL, sddl[512];
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return -1;
    if (GetTokenInformation(token, TokenUser, &u, sizeof(u), &len))
        ConvertSidToStringSidW(u.user.User.Sid, &me);
    CloseHandle(token);
    if (!me)
        return -1;
    _snwprintf(sddl, 512, L"D:P(A;;FA;;;%ls)(A;;FA;;;SY)(A;;FA;;;BA)%ls", me,
               mode & 044 ? L"(A;;FR;;;WD)" : L"");
    sddl[511] = L'\0';
    LocalFree(me);
    PSECURITY_DESCRIPTOR sd;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL))
        return -1;
    BOOL present, defaulted;
    PACL dacl;
    GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted);
    wchar_t *w = wide(path);
    DWORD err = SetNamedSecurityInfoW(w, SE_FILE_OBJECT,
                                      DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                      NULL, NULL, dacl, NULL);
    free(w);
    LocalFree(sd);
    return err == ERROR_SUCCESS ? 0 : -1;
}

/* ---- testplat.h ---------------------------------------------------------- */

#include <wincred.h>

#include "../testplat.h"

int testplat_store_credential(const char *name, const char *value, const char *dir)
{
    (void)dir;
    CREDENTIALW c;
    memset(&c, 0, sizeof(c));
    wchar_t *target = wide(name), *secret = wide(value);
    c.Type = CRED_TYPE_GENERIC;
    c.TargetName = target;
    c.UserName = L"dualsync";
    /* as cmdkey stores a password: UTF-16 without the terminator */
    c.CredentialBlob = (LPBYTE)secret;
    c.CredentialBlobSize = (DWORD)(wcslen(secret) * sizeof(wchar_t));
    c.Persist = CRED_PERSIST_LOCAL_MACHINE;
    BOOL ok = CredWriteW(&c, 0);
    free(target);
    free(secret);
    return ok ? 0 : -1;
}

/* CreateProcess straight away: cmd.exe would take the '/' of a relative path
 * for a switch */
int testplat_run(const char *cmdline)
{
    fflush(NULL);
    wchar_t *w = wide(cmdline);
    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    BOOL ok = CreateProcessW(NULL, w, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
    free(w);
    if (!ok)
        return -1;
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = (DWORD)-1;
    GetExitCodeProcess(pi.hProcess, &code);
    CloseHandle(pi.hProcess);
    CloseHandle(pi.hThread);
    return (int)code;
}

const char *testplat_cannot_narrow(void)
{
    /* ntdll of Wine exports wine_get_version; Windows' does not */
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    if (ntdll && GetProcAddress(ntdll, "wine_get_version"))
        return "under Wine a DACL set on an existing file becomes unix mode 0775 (readable by "
               "Everyone): narrowing cannot be observed";
    return NULL;
}

const char *testplat_null_device(void)
{
    return "NUL";
}

const char *testplat_symlink(const char *target, const char *linkpath)
{
    wchar_t *t = wide(target), *l = wide(linkpath);
    /* ALLOW_UNPRIVILEGED_CREATE (0x2): developer mode; else it needs
     * SeCreateSymbolicLinkPrivilege */
    BOOLEAN ok = CreateSymbolicLinkW(l, t, 0x2);
    if (!ok)
        ok = CreateSymbolicLinkW(l, t, 0);
    /* a link is a reparse point; Wine (8.0) reports success and makes none */
    DWORD attrs = ok ? GetFileAttributesW(l) : INVALID_FILE_ATTRIBUTES;
    free(t);
    free(l);
    if (!ok)
        return "this account may not create symbolic links";
    if (attrs == INVALID_FILE_ATTRIBUTES || !(attrs & FILE_ATTRIBUTE_REPARSE_POINT))
        return "CreateSymbolicLinkW reported success but made no link (Wine)";
    return NULL;
}

const char *testplat_limit_file_size(long bytes)
{
    (void)bytes;
    return "Windows has no per-process file size limit";
}
