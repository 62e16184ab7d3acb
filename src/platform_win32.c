/* platform_win32.c - platform.h on Windows (built by MinGW-w64; see
 * scripts/build-windows.sh and doc/deployment.md).
 *
 * Paths are UTF-8 everywhere in dualsync; here they become UTF-16 for the
 * wide-character API (CreateFileW, MoveFileExW...), so that a mapping
 * directory under "C:\Users\Jürgen" works whatever the ANSI code page is.
 *
 * "Readable by its owner only" is the POSIX mode 0600; here it is a
 * protected DACL (no inherited entries) that allows the owner, SYSTEM and
 * the Administrators group, which is what `icacls F /inheritance:r` with
 * those three grants gives. Secret files are checked against the same rule. */
#include "compat.h"

#include <windows.h>
#include <aclapi.h>
#include <io.h>
#include <limits.h>
#include <sddl.h>
#include <shellapi.h>
#include <wincred.h>
#include <wincrypt.h>
#include <bcrypt.h>
#include <ncrypt.h>
#include <wchar.h>
#include <winhttp.h>

#include "log.h"
#include "platform.h"
#include "util.h"

/* ---- errors and paths ------------------------------------------------ */

/* The system's message for a Win32 error code, in UTF-8, without the
 * trailing period and line break; valid until the next call. */
static const char *win_strerror(DWORD err)
{
    static char buf[512];
    wchar_t wbuf[256];
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, err,
                             MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), wbuf, ARRAY_SIZE(wbuf), NULL);
    int len8 = n ? WideCharToMultiByte(CP_UTF8, 0, wbuf, (int)n, buf, sizeof(buf) - 1, NULL, NULL) : 0;
    if (len8 <= 0) {
        snprintf(buf, sizeof(buf), "Windows error %lu", (unsigned long)err);
        return buf;
    }
    buf[len8] = '\0';
    size_t len = strlen(buf);
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' ||
                   buf[len - 1] == '.'))
        buf[--len] = '\0';
    /* lowercase the first letter, as our messages are */
    if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
        buf[0] = (char)(buf[0] - 'A' + 'a');
    return buf;
}

static const char *last_error(void)
{
    return win_strerror(GetLastError());
}

/* UTF-8 to a NUL-terminated UTF-16 string the caller frees; NULL (nothing
 * logged) if s is not valid UTF-8. */
static wchar_t *utf8_to_wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0)
        return NULL;
    wchar_t *w = xmalloc((size_t)n * sizeof(*w));
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
    return w;
}

static char *wide_to_utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    if (n <= 0)
        return xstrdup("");
    char *s = xmalloc((size_t)n);
    WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

/* A path for the wide API. An absolute drive path longer than MAX_PATH gets
 * the "\\?\" prefix (which also turns off '/' translation, so slashes become
 * backslashes), since a mapping directory may sit deep in a profile. NULL
 * after logging when the path is not UTF-8. */
static wchar_t *wpath(const char *path)
{
    wchar_t *w = utf8_to_wide(path);
    if (!w) {
        log_error("%s: the path is not valid UTF-8", path);
        return NULL;
    }
    size_t n = wcslen(w);
    if (n >= MAX_PATH - 12 && ((w[0] | 0x20) >= L'a' && (w[0] | 0x20) <= L'z') && w[1] == L':'
        && (w[2] == L'\\' || w[2] == L'/')) {
        wchar_t *l = xmalloc((n + 5) * sizeof(*l));
        memcpy(l, L"\\\\?\\", 4 * sizeof(*l));
        for (size_t i = 0; i <= n; i++)
            l[4 + i] = w[i] == L'/' ? L'\\' : w[i];
        free(w);
        return l;
    }
    return w;
}

/* ---- owner-only security ------------------------------------------------ */

/* The string SID of this process's user ("S-1-5-21-..."); cached. */
static const wchar_t *my_sid(void)
{
    static wchar_t *sid;
    if (sid)
        return sid;
    HANDLE token;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
        return NULL;
    union {
        TOKEN_USER user;
        unsigned char raw[256];
    } u;
    DWORD len;
    if (GetTokenInformation(token, TokenUser, &u, sizeof(u), &len)) {
        wchar_t *s;
        if (ConvertSidToStringSidW(u.user.User.Sid, &s)) {
            size_t n = wcslen(s) + 1;
            sid = xmalloc(n * sizeof(*sid));
            memcpy(sid, s, n * sizeof(*sid));
            LocalFree(s);
        }
    }
    CloseHandle(token);
    return sid;
}

/* Security attributes for a new file that only its owner (this process's
 * user), SYSTEM and Administrators may open: the equivalent of mode 0600.
 * "P" protects the DACL from inheriting the directory's entries (e.g. the
 * Users group's read access that C:\ProgramData hands down). Free with
 * free_owner_only. */
static bool owner_only(SECURITY_ATTRIBUTES *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->nLength = sizeof(*sa);
    const wchar_t *sid = my_sid();
    if (!sid)
        return false;
    wchar_t sddl[256];
    _snwprintf(sddl, ARRAY_SIZE(sddl), L"D:P(A;;FA;;;%ls)(A;;FA;;;SY)(A;;FA;;;BA)", sid);
    sddl[ARRAY_SIZE(sddl) - 1] = L'\0';
    return ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1,
                                                                &sa->lpSecurityDescriptor, NULL);
}

static void free_owner_only(SECURITY_ATTRIBUTES *sa)
{
    if (sa->lpSecurityDescriptor)
        LocalFree(sa->lpSecurityDescriptor);
}

/* The SIDs that may read a secret besides its owner. */
static bool trusted_sid(PSID sid, PSID owner)
{
    if (owner && EqualSid(sid, owner))
        return true;
    if (IsWellKnownSid(sid, WinLocalSystemSid) || IsWellKnownSid(sid, WinBuiltinAdministratorsSid))
        return true;
    /* the account running dualsync, if it is not the file's owner (a file
     * an administrator created for the service account) */
    const wchar_t *me = my_sid();
    PSID mine = NULL;
    bool same = false;
    if (me && ConvertStringSidToSidW(me, &mine)) {
        same = EqualSid(sid, mine);
        LocalFree(mine);
    }
    return same;
}

/* "DOMAIN\name" of a SID, or its string form; the caller frees. */
static char *sid_name(PSID sid)
{
    wchar_t name[256], domain[256];
    DWORD nn = ARRAY_SIZE(name), dn = ARRAY_SIZE(domain);
    SID_NAME_USE use;
    if (LookupAccountSidW(NULL, sid, name, &nn, domain, &dn, &use)) {
        char *n = wide_to_utf8(name), *d = wide_to_utf8(domain);
        char *r = *d ? xasprintf("%s\\%s", d, n) : xstrdup(n);
        free(n);
        free(d);
        return r;
    }
    wchar_t *s;
    if (ConvertSidToStringSidW(sid, &s)) {
        char *r = wide_to_utf8(s);
        LocalFree(s);
        return r;
    }
    return xstrdup("an unknown account");
}

/* Rights that let an account read the file's data or give itself that
 * right (WRITE_DAC, WRITE_OWNER). */
#define READ_RIGHTS (FILE_READ_DATA | GENERIC_READ | GENERIC_ALL | WRITE_DAC | WRITE_OWNER)

/* The problem and its remedy: the owner-only DACL that icacls makes (the
 * account running dualsync reads; SYSTEM and Administrators may manage). */
static void set_why(char *why, size_t size, const char *problem, const char *path)
{
    snprintf(why, size, "%s; run: icacls \"%s\" /inheritance:r /grant:r \"%%USERNAME%%:(R)\" "
             "/grant:r SYSTEM:(F) /grant:r Administrators:(F)", problem, path);
}

/* Does the DACL of the open file h let anyone but the owner, SYSTEM and
 * Administrators read it? 0: no; -1: yes or cannot tell, with the reason
 * and the remedy in why. */
static int check_dacl(HANDLE h, const char *path, char *why, size_t size)
{
    PSID owner = NULL;
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD err = GetSecurityInfo(h, SE_FILE_OBJECT, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                &owner, NULL, &dacl, NULL, &sd);
    if (err != ERROR_SUCCESS) {
        snprintf(why, size, "cannot read its access control list: %s", win_strerror(err));
        return -1;
    }
    int rc = 0;
    if (!dacl) {
        /* a NULL DACL grants everyone everything */
        set_why(why, size, "has no access control list (everyone may read it)", path);
        rc = -1;
    }
    for (DWORD i = 0; !rc && i < dacl->AceCount; i++) {
        ACE_HEADER *ace;
        if (!GetAce(dacl, i, (void **)&ace))
            continue;
        /* an inherit-only entry applies to children, not to this file */
        if (ace->AceFlags & INHERIT_ONLY_ACE)
            continue;
        if (ace->AceType != ACCESS_ALLOWED_ACE_TYPE)
            continue;
        ACCESS_ALLOWED_ACE *a = (ACCESS_ALLOWED_ACE *)ace;
        if (!(a->Mask & READ_RIGHTS))
            continue;
        PSID sid = (PSID)&a->SidStart;
        if (trusted_sid(sid, owner))
            continue;
        char *who = sid_name(sid);
        char *problem = xasprintf("is readable by %s", who);
        set_why(why, size, problem, path);
        free(problem);
        free(who);
        rc = -1;
    }
    LocalFree(sd);
    return rc;
}

/* Make the open file h owner-only (a file restored from a backup, or made
 * by hand, may have inherited the directory's wider entries). */
static int restrict_dacl(HANDLE h, const char *path)
{
    char why[512];
    if (check_dacl(h, path, why, sizeof(why)) == 0)
        return 0;
    SECURITY_ATTRIBUTES sa;
    if (!owner_only(&sa))
        return -1;
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = NULL;
    DWORD err = ERROR_INVALID_SECURITY_DESCR;
    if (GetSecurityDescriptorDacl(sa.lpSecurityDescriptor, &present, &dacl, &defaulted))
        err = SetSecurityInfo(h, SE_FILE_OBJECT,
                              DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                              NULL, NULL, dacl, NULL);
    free_owner_only(&sa);
    if (err != ERROR_SUCCESS) {
        log_warn("%s %s and its access control list cannot be changed: %s", path, why, win_strerror(err));
        return -1;
    }
    return 0;
}

/* ---- process set-up ----------------------------------------------------- */

void platform_init(void)
{
    /* our text is UTF-8: make the console show it as such (the console's
     * own code page is an OEM one, 437 or 850) */
    SetConsoleOutputCP(CP_UTF8);
    SetConsoleCP(CP_UTF8);
    /* no "abort, retry, ignore" boxes from a service: fail the call */
    SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOOPENFILEERRORBOX);
}

void platform_args(int *argc, char ***argv)
{
    /* the C runtime's argv is in the ANSI code page, which cannot hold every
     * name (Ångström in cp1252 yes, Łódź no); the wide command line can */
    int n;
    wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
    if (!w)
        return;
    char **v = xcalloc((size_t)n + 1, sizeof(*v));
    for (int i = 0; i < n; i++)
        v[i] = wide_to_utf8(w[i]);
    LocalFree(w);
    /* kept for the life of the process, as the runtime's argv is */
    *argc = n;
    *argv = v;
}

const char *platform_config_dir(void)
{
    static char *dir;
    if (!dir) {
        const wchar_t *pd = _wgetenv(L"ProgramData");
        char *p = pd ? wide_to_utf8(pd) : xstrdup("C:\\ProgramData");
        dir = xasprintf("%s\\dualsync", p);
        free(p);
    }
    return dir;
}

/* ---- secrets -------------------------------------------------------------- */

#define CREDENTIAL_PREFIX "credential:"

/* credential:NAME is a generic credential in the Credential Manager of the
 * account that runs dualsync (cmdkey /generic:NAME /user:dualsync /pass),
 * stored by Windows with DPAPI under that account's key. */
static int read_credential(const char *name, const char *what, struct strbuf *out)
{
    wchar_t *target = utf8_to_wide(name);
    if (!target)
        return log_error("%s: %s%s is not valid UTF-8", what, CREDENTIAL_PREFIX, name);
    PCREDENTIALW cred;
    BOOL ok = CredReadW(target, CRED_TYPE_GENERIC, 0, &cred);
    free(target);
    if (!ok) {
        DWORD err = GetLastError();
        if (err == ERROR_NOT_FOUND)
            return log_error("%s: the Credential Manager of this account has no generic "
                             "credential %s; run as the account that runs dualsync: "
                             "cmdkey /generic:%s /user:dualsync /pass", what, name, name);
        return log_error("%s: cannot read credential %s: %s", what, name, win_strerror(err));
    }
    /* the blob is what the writer put there: cmdkey and the Credential
     * Manager store the password as UTF-16, other tools as bytes */
    const unsigned char *b = cred->CredentialBlob;
    DWORD len = cred->CredentialBlobSize;
    bool utf16 = len >= 2 && len % 2 == 0 && b[1] == 0;
    if (utf16) {
        size_t n = len / 2;
        wchar_t *w = xmalloc((n + 1) * sizeof(*w));
        memcpy(w, b, n * sizeof(*w));
        w[n] = L'\0';
        int u = WideCharToMultiByte(CP_UTF8, 0, w, (int)n, NULL, 0, NULL, NULL);
        strbuf_grow(out, (size_t)u + 1);
        WideCharToMultiByte(CP_UTF8, 0, w, (int)n, out->buf + out->len, u, NULL, NULL);
        out->len += (size_t)u;
        out->buf[out->len] = '\0';
        SecureZeroMemory(w, n * sizeof(*w));
        free(w);
    } else {
        strbuf_add(out, b, len);
    }
    SecureZeroMemory(cred->CredentialBlob, cred->CredentialBlobSize);
    CredFree(cred);
    if (!out->len) {
        platform_wipe(out);
        return log_error("%s: credential %s is empty", what, name);
    }
    return 0;
}

/* ---- DPAPI ---------------------------------------------------------------- */

/* A DPAPI blob starts with the little-endian DWORD 1: Windows' with its
 * version and then the provider's GUID {df9d8cd0-1501-11d1-8c7a-00c04fc297eb}
 * (what CryptProtectData and ProtectedData.Protect write), Wine's with a
 * count and its own marker (dlls/crypt32/protectdata.c). A secret in clear
 * is text: it never starts with the bytes 01 00 00 00. */
static bool is_dpapi(const void *data, size_t len)
{
    static const unsigned char one[4] = { 1, 0, 0, 0 };
    return len > 20 && !memcmp(data, one, sizeof(one));
}

/* out holds a DPAPI blob: replace it by the clear secret. */
static int dpapi_unprotect(const char *path, const char *what, struct strbuf *out)
{
    DATA_BLOB in = { (DWORD)out->len, (BYTE *)out->buf }, clear = { 0, NULL };
    BOOL ok = CryptUnprotectData(&in, NULL, NULL, NULL, NULL, CRYPTPROTECT_UI_FORBIDDEN, &clear);
    DWORD err = GetLastError();
    platform_wipe(out);
    if (!ok)
        return log_error("%s file %s: cannot decrypt its DPAPI-protected secret (%s); it was "
                         "protected on another machine or for another account: protect it again "
                         "on this machine, for the machine or as the account that runs dualsync "
                         "(dualsync protect-secret)", what, path, win_strerror(err));
    strbuf_add(out, clear.pbData, clear.cbData);
    SecureZeroMemory(clear.pbData, clear.cbData);
    LocalFree(clear.pbData);
    return 0;
}

int platform_protect_secret(const char *secret, size_t len, bool machine, struct strbuf *out)
{
    DATA_BLOB in = { (DWORD)len, (BYTE *)secret }, blob = { 0, NULL };
    DWORD flags = CRYPTPROTECT_UI_FORBIDDEN | (machine ? CRYPTPROTECT_LOCAL_MACHINE : 0);
    if (!CryptProtectData(&in, L"dualsync", NULL, NULL, NULL, flags, &blob))
        return log_error("protect-secret: CryptProtectData: %s", last_error());
    int rc = 0;
    if (!is_dpapi(blob.pbData, blob.cbData))
        rc = log_error("protect-secret: CryptProtectData wrote no DPAPI blob this program can "
                       "recognize again; nothing written");
    else
        strbuf_add(out, blob.pbData, blob.cbData);
    LocalFree(blob.pbData);
    return rc;
}

/* ---- a certificate's key in the store ------------------------------------ */

static int sha256(const void *data, size_t len, unsigned char out[32])
{
    BCRYPT_ALG_HANDLE alg = NULL;
    BCRYPT_HASH_HANDLE h = NULL;
    NTSTATUS st = BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA256_ALGORITHM, NULL, 0);
    if (BCRYPT_SUCCESS(st))
        st = BCryptCreateHash(alg, &h, NULL, 0, NULL, 0, 0);
    if (BCRYPT_SUCCESS(st))
        st = BCryptHashData(h, (PUCHAR)data, (ULONG)len, 0);
    if (BCRYPT_SUCCESS(st))
        st = BCryptFinishHash(h, out, 32, 0);
    if (h)
        BCryptDestroyHash(h);
    if (alg)
        BCryptCloseAlgorithmProvider(alg, 0);
    return BCRYPT_SUCCESS(st) ? 0 : log_error("BCrypt SHA-256: status 0x%08lx", (unsigned long)st);
}

static int sign_ncrypt(NCRYPT_KEY_HANDLE key, bool pss, unsigned char hash[32], struct strbuf *sig)
{
    BCRYPT_PKCS1_PADDING_INFO p1 = { BCRYPT_SHA256_ALGORITHM };
    BCRYPT_PSS_PADDING_INFO pp = { BCRYPT_SHA256_ALGORITHM, 32 };
    void *pad = pss ? (void *)&pp : (void *)&p1;
    DWORD flags = (pss ? BCRYPT_PAD_PSS : BCRYPT_PAD_PKCS1) | NCRYPT_SILENT_FLAG;
    DWORD n = 0;
    SECURITY_STATUS st = NCryptSignHash(key, pad, hash, 32, NULL, 0, &n, flags);
    if (st == ERROR_SUCCESS) {
        unsigned char *buf = xmalloc(n);
        st = NCryptSignHash(key, pad, hash, 32, buf, n, &n, flags);
        if (st == ERROR_SUCCESS)
            strbuf_add(sig, buf, n);
        free(buf);
    }
    if (st != ERROR_SUCCESS)
        return log_error("NCryptSignHash: %s (0x%08lx); the account running dualsync needs read "
                         "access to the certificate's private key (certlm.msc, Manage Private Keys)",
                         win_strerror((DWORD)st), (unsigned long)st);
    return 0;
}

/* A legacy CryptoAPI key (imported without a CNG key storage provider):
 * PKCS#1 v1.5 only, and the signature comes little-endian. The key's own
 * provider may be one without SHA-256 (the Base and Enhanced providers,
 * PROV_RSA_FULL): its container is opened again through the RSA and AES
 * provider, which shares the containers and has SHA-256. */
static int sign_capi(PCCERT_CONTEXT c, HCRYPTPROV prov, DWORD spec, bool pss, unsigned char hash[32],
                     struct strbuf *sig)
{
    if (pss)
        return log_error("the certificate's key is in a legacy CryptoAPI provider, which cannot "
                         "sign RSASSA-PSS; import the key into a CNG key storage provider "
                         "(certutil -csp \"Microsoft Software Key Storage Provider\" -importpfx)");
    HCRYPTPROV aes = 0;
    DWORD sz = 0;
    if (CertGetCertificateContextProperty(c, CERT_KEY_PROV_INFO_PROP_ID, NULL, &sz)) {
        CRYPT_KEY_PROV_INFO *info = xmalloc(sz);
        if (CertGetCertificateContextProperty(c, CERT_KEY_PROV_INFO_PROP_ID, info, &sz)
            && CryptAcquireContextW(&aes, info->pwszContainerName, MS_ENH_RSA_AES_PROV_W, PROV_RSA_AES,
                                    (info->dwFlags & CRYPT_MACHINE_KEYSET) | CRYPT_SILENT))
            prov = aes;
        else
            log_debug("the key's container cannot be opened through the RSA and AES provider: %s",
                      last_error());
        free(info);
    }
    HCRYPTHASH h = 0;
    int rc = -1;
    DWORD n = 0;
    if (CryptCreateHash(prov, CALG_SHA_256, 0, 0, &h) && CryptSetHashParam(h, HP_HASHVAL, hash, 0)
        && !CryptSignHashW(h, spec, NULL, 0, NULL, &n) && GetLastError() == (DWORD)NTE_NO_KEY) {
        /* the certificate's property names one key pair, the container
         * holds the other (PFX imports differ in which they write) */
        log_debug("CryptoAPI: no %s key pair in the container; trying the %s one",
                  spec == AT_SIGNATURE ? "signature" : "exchange", spec == AT_SIGNATURE ? "exchange" : "signature");
        spec = spec == AT_SIGNATURE ? AT_KEYEXCHANGE : AT_SIGNATURE;
    }
    if (!h || !CryptSignHashW(h, spec, NULL, 0, NULL, &n)) {
        log_error("CryptoAPI cannot sign with the certificate's key (SHA-256): %s; import the key "
                  "into a CNG key storage provider", last_error());
        goto out;
    }
    unsigned char *buf = xmalloc(n);
    if (CryptSignHashW(h, spec, NULL, 0, buf, &n)) {
        for (DWORD i = 0; i < n / 2; i++) {
            unsigned char t = buf[i];
            buf[i] = buf[n - 1 - i];
            buf[n - 1 - i] = t;
        }
        strbuf_add(sig, buf, n);
        rc = 0;
    } else {
        log_error("CryptSignHash: %s", last_error());
    }
    free(buf);
out:
    if (h)
        CryptDestroyHash(h);
    if (aes)
        CryptReleaseContext(aes, 0);
    return rc;
}

int platform_cert_sign(bool machine, const char *thumbprint, bool *pss, const void *data, size_t len,
                       struct strbuf *sig, struct strbuf *cert)
{
    const char *where = machine ? "Cert:\\LocalMachine\\My" : "Cert:\\CurrentUser\\My";
    BYTE sha1[20];
    bool hex_ok = strlen(thumbprint) == 40;
    for (size_t i = 0; hex_ok && i < 20; i++) {
        unsigned v;
        hex_ok = sscanf(thumbprint + 2 * i, "%2x", &v) == 1;
        sha1[i] = (BYTE)v;
    }
    if (!hex_ok)
        return log_error("cert_thumbprint %s is not 40 hexadecimal digits", thumbprint);
    HCERTSTORE st = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                                  (machine ? CERT_SYSTEM_STORE_LOCAL_MACHINE : CERT_SYSTEM_STORE_CURRENT_USER)
                                  | CERT_STORE_OPEN_EXISTING_FLAG | CERT_STORE_READONLY_FLAG, L"MY");
    if (!st)
        return log_error("cannot open the certificate store %s: %s", where, last_error());
    CRYPT_HASH_BLOB hb = { 20, sha1 };
    PCCERT_CONTEXT c = CertFindCertificateInStore(st, X509_ASN_ENCODING, 0, CERT_FIND_SHA1_HASH, &hb, NULL);
    int rc = -1;
    HCRYPTPROV_OR_NCRYPT_KEY_HANDLE key = 0;
    DWORD spec = 0;
    BOOL must_free = FALSE;
    if (!c) {
        log_error("no certificate with thumbprint %s in %s; import the app registration's "
                  "certificate with its private key there (Import-PfxCertificate -CertStoreLocation %s)",
                  thumbprint, where, where);
        goto out;
    }
    if (CertVerifyTimeValidity(NULL, c->pCertInfo) != 0) {
        log_error("the certificate %s in %s is expired or not yet valid; create a new one and "
                  "register it on the app registration", thumbprint, where);
        goto out;
    }
    if (!CryptAcquireCertificatePrivateKey(c, CRYPT_ACQUIRE_SILENT_FLAG | CRYPT_ACQUIRE_ALLOW_NCRYPT_KEY_FLAG,
                                           NULL, &key, &spec, &must_free)) {
        log_error("the certificate %s in %s has no private key this account can use (%s); import "
                  "it with its key, and give the account running dualsync read access to the key "
                  "(certlm.msc, All Tasks, Manage Private Keys)", thumbprint, where, last_error());
        goto out;
    }
    unsigned char hash[32];
    if (!data) {
        /* only the certificate, for the header; a CryptoAPI key signs
         * PKCS#1 v1.5 only (RS256, which Entra takes as well) */
        if (spec != CERT_NCRYPT_KEY_SPEC && *pss) {
            log_verbose("the key of certificate %s is in a legacy CryptoAPI provider: RS256", thumbprint);
            *pss = false;
        }
        rc = 0;
    } else if (sha256(data, len, hash) == 0) {
        rc = spec == CERT_NCRYPT_KEY_SPEC ? sign_ncrypt(key, *pss, hash, sig)
                                          : sign_capi(c, key, spec, *pss, hash, sig);
    }
    if (!rc)
        strbuf_add(cert, c->pbCertEncoded, c->cbCertEncoded);
out:
    if (key && must_free) {
        if (spec == CERT_NCRYPT_KEY_SPEC)
            NCryptFreeObject(key);
        else
            CryptReleaseContext(key, 0);
    }
    if (c)
        CertFreeCertificateContext(c);
    CertCloseStore(st, 0);
    return rc;
}

/* ---- the system's proxy (WinHTTP) ---------------------------------------- */

/* A bypass entry: a host name with '*' wildcards, case-insensitive;
 * "<local>" is a name without a dot. */
static bool bypass_match(const wchar_t *pat, size_t plen, const wchar_t *host)
{
    if (plen == 7 && !_wcsnicmp(pat, L"<local>", 7))
        return !wcschr(host, L'.');
    if (!plen)
        return !*host;
    if (*pat == L'*') {
        for (const wchar_t *h = host;; h++) {
            if (bypass_match(pat + 1, plen - 1, h))
                return true;
            if (!*h)
                return false;
        }
    }
    return *host && towlower(*pat) == towlower(*host) && bypass_match(pat + 1, plen - 1, host + 1);
}

static bool bypassed(const wchar_t *list, const wchar_t *host)
{
    for (const wchar_t *t = list; t && *t;) {
        t += wcsspn(t, L"; \t");
        size_t n = wcscspn(t, L"; \t");
        if (n && bypass_match(t, n, host))
            return true;
        t += n;
    }
    return false;
}

/* The proxy for an https URL out of a WinHTTP proxy list: entries separated
 * by ';' or spaces, either "host:port" or "scheme=host:port"; the https one
 * if there is one, else the first without a scheme. */
static bool pick_proxy(const wchar_t *list, struct strbuf *out)
{
    const wchar_t *plain = NULL, *https = NULL;
    size_t plain_n = 0, https_n = 0;
    for (const wchar_t *t = list; t && *t;) {
        t += wcsspn(t, L"; \t");
        size_t n = wcscspn(t, L"; \t");
        const wchar_t *eq = wmemchr(t, L'=', n);
        if (eq && eq - t == 5 && !_wcsnicmp(t, L"https", 5) && !https)
            https = eq + 1, https_n = n - 6;
        else if (!eq && n && !plain)
            plain = t, plain_n = n;
        t += n;
    }
    const wchar_t *p = https ? https : plain;
    size_t n = https ? https_n : plain_n;
    if (!p || !n)
        return false;
    wchar_t *w = xcalloc(n + 1, sizeof(*w));
    wmemcpy(w, p, n);
    char *s = wide_to_utf8(w);
    free(w);
    strbuf_addf(out, "%s%s", strstr(s, "://") ? "" : "http://", s);
    free(s);
    return true;
}

/* A PAC file (its URL, or WPAD when NULL) evaluated by WinHTTP for url. */
static int pac_proxy(const wchar_t *wurl, const wchar_t *pac, struct strbuf *proxy)
{
    HINTERNET s = WinHttpOpen(L"dualsync", WINHTTP_ACCESS_TYPE_NO_PROXY, WINHTTP_NO_PROXY_NAME,
                              WINHTTP_NO_PROXY_BYPASS, 0);
    if (!s)
        return -1;
    WINHTTP_AUTOPROXY_OPTIONS o;
    memset(&o, 0, sizeof(o));
    if (pac) {
        o.dwFlags = WINHTTP_AUTOPROXY_CONFIG_URL;
        o.lpszAutoConfigUrl = pac;
    } else {
        o.dwFlags = WINHTTP_AUTOPROXY_AUTO_DETECT;
        o.dwAutoDetectFlags = WINHTTP_AUTO_DETECT_TYPE_DHCP | WINHTTP_AUTO_DETECT_TYPE_DNS_A;
    }
    o.fAutoLogonIfChallenged = TRUE;
    WINHTTP_PROXY_INFO pi;
    memset(&pi, 0, sizeof(pi));
    int rc = 1;
    if (!WinHttpGetProxyForUrl(s, wurl, &o, &pi)) {
        /* "Automatically detect settings" is on by default in Internet
         * Options: no WPAD on the network is the usual case, not news */
        if (!pac && GetLastError() == ERROR_WINHTTP_AUTODETECTION_FAILED)
            log_debug("proxy: WPAD found no proxy auto-configuration; going direct");
        else
            log_warn("the proxy auto-configuration (%s) cannot be evaluated: %s; going direct",
                     pac ? "a PAC file" : "WPAD", last_error());
    } else if (pi.dwAccessType == WINHTTP_ACCESS_TYPE_NAMED_PROXY && pi.lpszProxy
               && pick_proxy(pi.lpszProxy, proxy)) {
        rc = 0;
    }
    if (pi.lpszProxy)
        GlobalFree(pi.lpszProxy);
    if (pi.lpszProxyBypass)
        GlobalFree(pi.lpszProxyBypass);
    WinHttpCloseHandle(s);
    return rc;
}

int platform_system_proxy(const char *url, struct strbuf *proxy, struct strbuf *source)
{
    wchar_t *wurl = utf8_to_wide(url);
    if (!wurl)
        return 1;
    /* the host, for the bypass lists */
    const wchar_t *h = wcsstr(wurl, L"://");
    h = h ? h + 3 : wurl;
    size_t hn = wcscspn(h, L":/");
    wchar_t *host = xcalloc(hn + 1, sizeof(*host));
    wmemcpy(host, h, hn);
    int rc = 1;
    WINHTTP_PROXY_INFO d;
    memset(&d, 0, sizeof(d));
    if (WinHttpGetDefaultProxyConfiguration(&d) && d.dwAccessType == WINHTTP_ACCESS_TYPE_NAMED_PROXY
        && d.lpszProxy) {
        if (bypassed(d.lpszProxyBypass, host)) {
            log_debug("proxy: the WinHTTP bypass list names %s", url);
        } else if (pick_proxy(d.lpszProxy, proxy)) {
            strbuf_addstr(source, "WinHTTP proxy, netsh winhttp");
            rc = 0;
        }
    }
    if (d.lpszProxy)
        GlobalFree(d.lpszProxy);
    if (d.lpszProxyBypass)
        GlobalFree(d.lpszProxyBypass);
    WINHTTP_CURRENT_USER_IE_PROXY_CONFIG ie;
    memset(&ie, 0, sizeof(ie));
    if (rc == 1 && WinHttpGetIEProxyConfigForCurrentUser(&ie)) {
        if (ie.lpszAutoConfigUrl || ie.fAutoDetect) {
            rc = pac_proxy(wurl, ie.lpszAutoConfigUrl, proxy);
            if (rc == 0) {
                char *pac = ie.lpszAutoConfigUrl ? wide_to_utf8(ie.lpszAutoConfigUrl) : NULL;
                strbuf_addf(source, "%s%s, Internet Options", pac ? "PAC " : "WPAD", pac ? pac : "");
                free(pac);
            }
        }
        if (rc != 0 && ie.lpszProxy && !bypassed(ie.lpszProxyBypass, host) && pick_proxy(ie.lpszProxy, proxy)) {
            strbuf_addstr(source, "Internet Options of this account");
            rc = 0;
        }
        if (rc < 0)
            rc = 1;
    }
    if (ie.lpszAutoConfigUrl)
        GlobalFree(ie.lpszAutoConfigUrl);
    if (ie.lpszProxy)
        GlobalFree(ie.lpszProxy);
    if (ie.lpszProxyBypass)
        GlobalFree(ie.lpszProxyBypass);
    free(host);
    free(wurl);
    return rc;
}

/* ---- the event log ---------------------------------------------------------- */

void platform_event_log(enum platform_event type, unsigned id, const char *message)
{
    /* one insertion string; the source registered with New-EventLog uses
     * .NET's EventLogMessages.dll, whose messages are just "%1" */
    static const WORD types[] = { EVENTLOG_INFORMATION_TYPE, EVENTLOG_WARNING_TYPE, EVENTLOG_ERROR_TYPE };
    char *m = xstrndup(message, 30000);   /* ReportEvent takes up to 31,839 characters */
    wchar_t *w = utf8_to_wide(m);
    free(m);
    HANDLE h = w ? RegisterEventSourceW(NULL, L"dualsync") : NULL;
    if (!h) {
        log_debug("event log: cannot register the source dualsync: %s", last_error());
    } else {
        LPCWSTR strings[1] = { w };
        if (!ReportEventW(h, types[type], 0, id, NULL, 1, 0, strings, NULL))
            log_debug("event log: ReportEvent: %s", last_error());
        DeregisterEventSource(h);
    }
    free(w);
}

/* the console's mode before echo_off, for echo_restore */
static DWORD stdin_saved;

bool platform_stdin_echo_off(const char *prompt)
{
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    if (!GetConsoleMode(in, &stdin_saved))
        return false;
    fputs(prompt, stderr);
    fflush(stderr);
    SetConsoleMode(in, stdin_saved & ~(DWORD)ENABLE_ECHO_INPUT);
    return true;
}

void platform_stdin_echo_restore(void)
{
    SetConsoleMode(GetStdHandle(STD_INPUT_HANDLE), stdin_saved);
    fputc('\n', stderr);
}

int platform_read_secret_raw(const char *path, const char *what, struct strbuf *out)
{
    if (!strncmp(path, CREDENTIAL_PREFIX, strlen(CREDENTIAL_PREFIX)))
        return read_credential(path + strlen(CREDENTIAL_PREFIX), what, out);
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    /* FILE_FLAG_OPEN_REPARSE_POINT: a symbolic link is not followed (O_NOFOLLOW) */
    HANDLE h = CreateFileW(w, GENERIC_READ | READ_CONTROL, FILE_SHARE_READ, NULL, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return log_error("%s file %s: %s", what, path, last_error());
    BY_HANDLE_FILE_INFORMATION info;
    if (GetFileType(h) != FILE_TYPE_DISK || !GetFileInformationByHandle(h, &info)
        || (info.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT))) {
        CloseHandle(h);
        return log_error("%s file %s: not a regular file", what, path);
    }
    char why[512];
    if (check_dacl(h, path, why, sizeof(why))) {
        CloseHandle(h);
        return log_error("%s file %s %s", what, path, why);
    }
    char buf[4096];
    DWORD n;
    BOOL ok;
    while ((ok = ReadFile(h, buf, sizeof(buf), &n, NULL)) && n > 0)
        strbuf_add(out, buf, n);
    DWORD err = GetLastError();
    SecureZeroMemory(buf, sizeof(buf));
    CloseHandle(h);
    if (!ok) {
        platform_wipe(out);
        return log_error("%s file %s: %s", what, path, win_strerror(err));
    }
    if (is_dpapi(out->buf, out->len) && dpapi_unprotect(path, what, out))
        return -1;
    return 0;
}

int platform_check_secret_file(const char *path, char *why, size_t size)
{
    /* a credential is checked where it is read: Windows guards it */
    if (!strncmp(path, CREDENTIAL_PREFIX, strlen(CREDENTIAL_PREFIX)))
        return 0;
    wchar_t *w = utf8_to_wide(path);
    if (!w) {
        snprintf(why, size, "the path is not valid UTF-8");
        return -1;
    }
    HANDLE h = CreateFileW(w, READ_CONTROL | FILE_READ_ATTRIBUTES,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)
            return 0;
        snprintf(why, size, "%s", win_strerror(err));
        return -1;
    }
    BY_HANDLE_FILE_INFORMATION info;
    int rc = 0;
    if (!GetFileInformationByHandle(h, &info)
        || (info.dwFileAttributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT))) {
        snprintf(why, size, "is not a regular file");
        rc = -1;
    } else {
        rc = check_dacl(h, path, why, size);
    }
    CloseHandle(h);
    return rc;
}

void platform_wipe(struct strbuf *secret)
{
    if (secret->buf)
        SecureZeroMemory(secret->buf, secret->alloc);
    strbuf_release(secret);
}

void platform_wipe_mem(void *p, size_t len)
{
    SecureZeroMemory(p, len);
}

/* ---- TLS trust ---------------------------------------------------------- */

/* One system store (location, "ROOT") into mem; false if it cannot be
 * opened (a service account without a loaded profile has no CurrentUser
 * store). CERT_STORE_ADD_USE_EXISTING: the CurrentUser store lists the
 * machine's roots again. */
static bool add_roots(HCERTSTORE mem, DWORD location, size_t *n)
{
    HCERTSTORE st = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                                  location | CERT_STORE_OPEN_EXISTING_FLAG | CERT_STORE_READONLY_FLAG,
                                  L"ROOT");
    if (!st)
        return false;
    PCCERT_CONTEXT c = NULL;
    while ((c = CertEnumCertificatesInStore(st, c)))
        if (CertAddCertificateContextToStore(mem, c, CERT_STORE_ADD_USE_EXISTING, NULL))
            (*n)++;
    CertCloseStore(st, 0);
    return true;
}

int platform_tls_roots(struct strbuf *out)
{
    HCERTSTORE mem = CertOpenStore(CERT_STORE_PROV_MEMORY, 0, 0, CERT_STORE_CREATE_NEW_FLAG, NULL);
    if (!mem)
        return log_error("cannot create a certificate store: %s", last_error());
    size_t n = 0;
    bool machine = add_roots(mem, CERT_SYSTEM_STORE_LOCAL_MACHINE, &n);
    DWORD machine_err = GetLastError();
    add_roots(mem, CERT_SYSTEM_STORE_CURRENT_USER, &n);
    if (!machine && !n) {
        CertCloseStore(mem, 0);
        return log_error("cannot open the Trusted Root Certification Authorities store of this "
                         "machine (Cert:\\LocalMachine\\Root): %s", win_strerror(machine_err));
    }
    size_t k = 0;
    PCCERT_CONTEXT c = NULL;
    while ((c = CertEnumCertificatesInStore(mem, c))) {
        DWORD len = 0;
        DWORD fl = CRYPT_STRING_BASE64HEADER;
        if (!CryptBinaryToStringA(c->pbCertEncoded, c->cbCertEncoded, fl, NULL, &len))
            continue;
        char *pem = xmalloc(len);
        if (CryptBinaryToStringA(c->pbCertEncoded, c->cbCertEncoded, fl, pem, &len)) {
            strbuf_add(out, pem, len);
            k++;
        }
        free(pem);
    }
    CertCloseStore(mem, 0);
    if (!k)
        return log_error("the Trusted Root Certification Authorities store of this machine "
                         "(Cert:\\LocalMachine\\Root) holds no certificate; import the root CA of "
                         "the service (Import-Certificate -CertStoreLocation Cert:\\LocalMachine\\Root)");
    log_debug("tls: %zu trusted root certificates from the Windows certificate store", k);
    return 0;
}

double platform_monotonic(void)
{
    /* QueryPerformanceCounter: monotonic, unaffected by clock changes */
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    return (double)now.QuadPart / (double)freq.QuadPart;
}

void platform_sleep(double seconds)
{
    /* Sleep is not cut short by anything but the end of the process */
    if (seconds > 0)
        Sleep(seconds * 1000.0 > 4.0e9 ? 4000000000u : (DWORD)(seconds * 1000.0 + 0.5));
}

/* ---- plain files ---------------------------------------------------------- */

struct platform_file {
    HANDLE h;
    bool append;
    char *path;
};

static int write_all(HANDLE h, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        DWORD chunk = len > 0x40000000 ? 0x40000000 : (DWORD)len, n;
        if (!WriteFile(h, p, chunk, &n, NULL))
            return -1;
        p += n;
        len -= n;
    }
    return 0;
}

int platform_path_kind(const char *path, enum platform_path_kind *kind)
{
    /* "NUL", "CON", "\\.\pipe\x" are not files: written into, never replaced */
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    HANDLE h = CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) {
            *kind = PLATFORM_PATH_NONE;
            return 0;
        }
        return log_error("cannot look at %s: %s", path, win_strerror(err));
    }
    BY_HANDLE_FILE_INFORMATION info;
    if (GetFileType(h) != FILE_TYPE_DISK)
        *kind = PLATFORM_PATH_OTHER;
    else if (GetFileInformationByHandle(h, &info) && (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
        *kind = PLATFORM_PATH_DIR;
    else
        *kind = PLATFORM_PATH_FILE;
    CloseHandle(h);
    return 0;
}

bool platform_isatty(FILE *f)
{
    /* _isatty is true for NUL too; a console answers GetConsoleMode */
    HANDLE h = (HANDLE)_get_osfhandle(_fileno(f));
    DWORD mode;
    return h != INVALID_HANDLE_VALUE && GetFileType(h) == FILE_TYPE_CHAR && GetConsoleMode(h, &mode);
}

/* ---- files that must survive a crash -------------------------------------- */

static void identity_of(const BY_HANDLE_FILE_INFORMATION *info, struct platform_file_id *id)
{
    id->volume = info->dwVolumeSerialNumber;
    id->index = ((uint64_t)info->nFileIndexHigh << 32) | info->nFileIndexLow;
}

int platform_read_file(const char *path, struct strbuf *out, struct platform_file_id *id)
{
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    /* FILE_SHARE_DELETE: a writer may replace the file while we read it,
     * as rename() may on POSIX; we go on reading the old one */
    HANDLE h = CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL | FILE_FLAG_SEQUENTIAL_SCAN, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)
            return 1;
        return log_error("cannot open %s: %s", path, win_strerror(err));
    }
    BY_HANDLE_FILE_INFORMATION info;
    if (!GetFileInformationByHandle(h, &info)) {
        DWORD err = GetLastError();
        CloseHandle(h);
        return log_error("cannot read %s: %s", path, win_strerror(err));
    }
    if (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) {
        CloseHandle(h);
        return log_error("cannot read %s: not a regular file", path);
    }
    if (id)
        identity_of(&info, id);
    /* the size GetFileInformationByHandle gave, then on to the end: a
     * journal a live writer appends to may have grown */
    size_t want = (((size_t)info.nFileSizeHigh << 32) | info.nFileSizeLow) + 1;
    strbuf_reset(out);
    for (;;) {
        strbuf_grow(out, want);
        size_t room = out->alloc - out->len - 1;
        DWORD n;
        if (!ReadFile(h, out->buf + out->len, room > 0x40000000 ? 0x40000000 : (DWORD)room, &n, NULL)) {
            DWORD err = GetLastError();
            CloseHandle(h);
            return log_error("cannot read %s: %s", path, win_strerror(err));
        }
        if (n == 0)
            break;
        out->len += n;
        want = 65536;
    }
    out->buf[out->len] = '\0';
    CloseHandle(h);
    return 0;
}

int platform_file_identity(const char *path, struct platform_file_id *id)
{
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    HANDLE h = CreateFileW(w, FILE_READ_ATTRIBUTES, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           NULL, OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)
            return 1;
        return log_error("cannot stat %s: %s", path, win_strerror(err));
    }
    BY_HANDLE_FILE_INFORMATION info;
    BOOL ok = GetFileInformationByHandle(h, &info);
    DWORD err = GetLastError();
    CloseHandle(h);
    if (!ok)
        return log_error("cannot stat %s: %s", path, win_strerror(err));
    identity_of(&info, id);
    return 0;
}

int platform_file_open(const char *path, enum platform_open_mode mode, struct platform_file **out)
{
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    SECURITY_ATTRIBUTES sa;
    bool have_sa = owner_only(&sa);
    /* READ_CONTROL | WRITE_DAC: to check and narrow the DACL of an existing
     * file. FILE_SHARE_DELETE: the file may be replaced or removed (by us,
     * after closing it) while a reader has it open. */
    /* a new file: CREATE_NEW fails if anything is at the path (O_EXCL), and
     * FILE_FLAG_OPEN_REPARSE_POINT opens a symbolic link or junction itself
     * instead of its target (O_NOFOLLOW) */
    HANDLE h = CreateFileW(w, GENERIC_WRITE | READ_CONTROL | WRITE_DAC,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           have_sa ? &sa : NULL, mode == PLATFORM_APPEND ? OPEN_ALWAYS : CREATE_NEW,
                           FILE_ATTRIBUTE_NORMAL |
                               (mode == PLATFORM_APPEND ? 0 : FILE_FLAG_OPEN_REPARSE_POINT),
                           NULL);
    DWORD err = GetLastError();
    if (have_sa)
        free_owner_only(&sa);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return log_error("cannot open %s for writing: %s", path, win_strerror(err));
    /* an existing file keeps its DACL (OPEN_ALWAYS):
     * one restored from a backup may be wider; the mapping store holds
     * account names, keep it to its owner */
    if (err == ERROR_ALREADY_EXISTS)
        (void)restrict_dacl(h, path);
    struct platform_file *f = xmalloc(sizeof(*f));
    f->h = h;
    f->append = mode == PLATFORM_APPEND;
    f->path = xstrdup(path);
    *out = f;
    return 0;
}

int platform_file_write(struct platform_file *f, const void *data, size_t len)
{
    /* append: at the end as it is now (we hold the mapping store's lock, so
     * nobody else writes; a truncate may have moved the end back) */
    LARGE_INTEGER zero = { 0 };
    if (f->append && !SetFilePointerEx(f->h, zero, NULL, FILE_END))
        return log_error("cannot write %s: %s", f->path, last_error());
    /* WriteFile goes to the system cache at once: there is no user-space
     * buffer to lose if the process is killed */
    if (write_all(f->h, data, len))
        return log_error("cannot write %s: %s", f->path, last_error());
    return 0;
}

int platform_file_sync(struct platform_file *f)
{
    /* FlushFileBuffers writes the data and the metadata (size) of the file
     * through the disk's cache: the fsync of Windows */
    if (!FlushFileBuffers(f->h))
        return log_error("cannot flush %s to disk: %s", f->path, last_error());
    return 0;
}

int platform_file_truncate(struct platform_file *f, uint64_t size)
{
    LARGE_INTEGER at;
    at.QuadPart = (LONGLONG)size;
    if (!SetFilePointerEx(f->h, at, NULL, FILE_BEGIN) || !SetEndOfFile(f->h))
        return log_error("cannot truncate %s: %s", f->path, last_error());
    return 0;
}

int platform_file_close(struct platform_file *f)
{
    if (!f)
        return 0;
    int rc = 0;
    if (!CloseHandle(f->h))
        rc = log_error("cannot close %s: %s", f->path, last_error());
    free(f->path);
    free(f);
    return rc;
}

/* Errors worth a retry: another process (a reader of the mapping file, a
 * virus scanner, the indexer, a backup agent) has the file open without
 * FILE_SHARE_DELETE, or for a moment in a way that blocks the move. */
static bool transient(DWORD err)
{
    return err == ERROR_ACCESS_DENIED || err == ERROR_SHARING_VIOLATION || err == ERROR_LOCK_VIOLATION;
}

int platform_replace(const char *from, const char *to)
{
    wchar_t *wf = wpath(from), *wt = wf ? wpath(to) : NULL;
    if (!wf || !wt) {
        free(wf);
        return -1;
    }
    /* REPLACE_EXISTING: rename() semantics, atomic on NTFS for a file in the
     * same directory. WRITE_THROUGH: returns only when the move is on disk,
     * which the directory fsync does on POSIX. Retried for about 2 s, as git
     * (mingw_rename) and curl (curlx_rename) do. */
    DWORD err = 0;
    bool dir = false;
    for (int attempt = 0, delay = 1; attempt < 12; attempt++, delay *= 2) {
        if (MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
            err = 0;
            break;
        }
        err = GetLastError();
        if (!transient(err))
            break;
        /* a directory in the way answers ERROR_ACCESS_DENIED too, and
         * waiting does not move it */
        DWORD attrs = GetFileAttributesW(wt);
        dir = attrs != INVALID_FILE_ATTRIBUTES && (attrs & FILE_ATTRIBUTE_DIRECTORY);
        if (dir)
            break;
        Sleep((DWORD)delay);
    }
    free(wf);
    free(wt);
    if (dir)
        return log_error("cannot rename %s to %s: %s is a directory; move it out of the way", from, to, to);
    if (err) {
        if (transient(err))
            return log_error("cannot rename %s to %s: %s; another program holds %s open "
                             "(a virus scanner or a backup agent?): exclude the mappings directory "
                             "from it", from, to, win_strerror(err), to);
        return log_error("cannot rename %s to %s: %s", from, to, win_strerror(err));
    }
    return 0;
}

int platform_sync_dir(const char *path)
{
    /* nothing to do: MOVEFILE_WRITE_THROUGH made the rename durable, and a
     * created file's name is journaled by NTFS with the file */
    (void)path;
    return 0;
}

int platform_remove(const char *path)
{
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    DWORD err = 0;
    for (int attempt = 0, delay = 1; attempt < 12; attempt++, delay *= 2) {
        if (DeleteFileW(w)) {
            err = 0;
            break;
        }
        err = GetLastError();
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) {
            err = 0;
            break;
        }
        if (!transient(err))
            break;
        Sleep((DWORD)delay);
    }
    free(w);
    if (err)
        return log_error("cannot remove %s: %s", path, win_strerror(err));
    return 0;
}

int platform_list_dir(const char *dir, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    /* asked first: FindFirstFileW's error for "FILE\*" differs between
     * Windows versions and Wine */
    wchar_t *w = wpath(dir);
    if (!w)
        return -1;
    DWORD attrs = GetFileAttributesW(w);
    DWORD err = GetLastError();
    free(w);
    if (attrs == INVALID_FILE_ATTRIBUTES) {
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND)
            return 1;
        return log_error("cannot read directory %s: %s", dir, win_strerror(err));
    }
    if (!(attrs & FILE_ATTRIBUTE_DIRECTORY))
        return 1;
    /* FindFirstFileW's pattern: dir and a '*' */
    size_t len = strlen(dir);
    bool sep = len && (dir[len - 1] == '/' || dir[len - 1] == '\\' || dir[len - 1] == ':');
    char *pattern = xasprintf("%s%s*", dir, sep ? "" : "\\");
    w = wpath(pattern);
    free(pattern);
    if (!w)
        return -1;
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileW(w, &fd);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        err = GetLastError();
        if (err == ERROR_FILE_NOT_FOUND)        /* a drive's empty root: no "." either */
            return 0;
        return log_error("cannot read directory %s: %s", dir, win_strerror(err));
    }
    do {
        if (!wcscmp(fd.cFileName, L".") || !wcscmp(fd.cFileName, L".."))
            continue;
        *names = xrealloc(*names, (*n + 1) * sizeof(**names));
        (*names)[(*n)++] = wide_to_utf8(fd.cFileName);
    } while (FindNextFileW(h, &fd));
    err = GetLastError();
    FindClose(h);
    if (err != ERROR_NO_MORE_FILES) {
        for (size_t i = 0; i < *n; i++)
            free((*names)[i]);
        free(*names);
        *names = NULL;
        *n = 0;
        return log_error("cannot read directory %s: %s", dir, win_strerror(err));
    }
    return 0;
}

int platform_remove_prefixed(const char *prefix)
{
    /* FindFirstFileW's pattern: the prefix and a '*' */
    char *pattern = xasprintf("%s*", prefix);
    wchar_t *w = wpath(pattern);
    free(pattern);
    if (!w)
        return -1;
    size_t dirlen = 0;
    for (size_t i = 0; prefix[i]; i++)
        if (prefix[i] == '/' || prefix[i] == '\\')
            dirlen = i + 1;
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileW(w, &fd);
    free(w);
    if (h == INVALID_HANDLE_VALUE) {
        DWORD err = GetLastError();
        if (err == ERROR_FILE_NOT_FOUND || err == ERROR_NO_MORE_FILES)
            return 0;
        return log_error("cannot read the directory of %s: %s", prefix, win_strerror(err));
    }
    int rc = 0;
    do {
        if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
            continue;
        char *name = wide_to_utf8(fd.cFileName);
        char *full = xasprintf("%.*s%s", (int)dirlen, prefix, name);
        /* the pattern also matches 8.3 short names: check the long one */
        if (!strncmp(full, prefix, strlen(prefix)) && platform_remove(full))
            rc = -1;
        free(full);
        free(name);
    } while (FindNextFileW(h, &fd));
    FindClose(h);
    return rc;
}

/* ---- locks ----------------------------------------------------------------- */

/* LockFileEx locks belong to the handle: a second open of the same file,
 * in this process or another, cannot take it, and Windows drops it when the
 * process ends however it ends. The locked byte lies far past the end of the
 * file, so that the pid written at its start stays readable by whoever
 * finds the lock taken. */
#define LOCK_OFFSET_HIGH 0x40000000u

struct platform_lock {
    HANDLE h;
};

static long lock_holder(HANDLE h)
{
    char buf[32];
    DWORD n = 0;
    OVERLAPPED ov = { 0 };
    if (!ReadFile(h, buf, sizeof(buf) - 1, &n, &ov) || !n)
        return 0;
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    uint64_t pid;
    return parse_u64(buf, &pid) == 0 && pid <= LONG_MAX ? (long)pid : 0;
}

int platform_lock_acquire(const char *path, struct platform_lock **out, long *holder)
{
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    SECURITY_ATTRIBUTES sa;
    bool have_sa = owner_only(&sa);
    HANDLE h = CreateFileW(w, GENERIC_READ | GENERIC_WRITE | READ_CONTROL | WRITE_DAC,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                           have_sa ? &sa : NULL, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    DWORD err = GetLastError();
    if (have_sa)
        free_owner_only(&sa);
    free(w);
    if (h == INVALID_HANDLE_VALUE)
        return log_error("cannot open lock file %s: %s", path, win_strerror(err));
    if (err == ERROR_ALREADY_EXISTS)
        (void)restrict_dacl(h, path);
    OVERLAPPED ov = { 0 };
    ov.OffsetHigh = LOCK_OFFSET_HIGH;
    if (!LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ov)) {
        err = GetLastError();
        if (err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING) {
            *holder = lock_holder(h);
            CloseHandle(h);
            return 1;
        }
        CloseHandle(h);
        return log_error("cannot lock %s: %s", path, win_strerror(err));
    }
    /* the pid is for people; the lock itself is the locked byte */
    char pid[32];
    int n = snprintf(pid, sizeof(pid), "%ld\n", (long)GetCurrentProcessId());
    LARGE_INTEGER zero = { 0 };
    if (!SetFilePointerEx(h, zero, NULL, FILE_BEGIN) || !SetEndOfFile(h) || write_all(h, pid, (size_t)n)) {
        err = GetLastError();
        CloseHandle(h);
        return log_error("cannot write lock file %s: %s", path, win_strerror(err));
    }
    struct platform_lock *l = xmalloc(sizeof(*l));
    l->h = h;
    *out = l;
    return 0;
}

void platform_lock_release(struct platform_lock *lock)
{
    if (!lock)
        return;
    /* leave the pid in the file (clearing it races with the next holder);
     * closing the handle releases the lock */
    OVERLAPPED ov = { 0 };
    ov.OffsetHigh = LOCK_OFFSET_HIGH;
    UnlockFileEx(lock->h, 0, 1, 0, &ov);
    CloseHandle(lock->h);
    free(lock);
}

long platform_pid(void)
{
    return (long)GetCurrentProcessId();
}

int platform_mkdir(const char *path)
{
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    /* the 0700 of POSIX: the owner-only DACL of the files (the "P" keeps
     * C:\ProgramData's inherited Users read out); files made inside get
     * their own from platform_file_open */
    SECURITY_ATTRIBUTES sa;
    bool have_sa = owner_only(&sa);
    BOOL ok = CreateDirectoryW(w, have_sa ? &sa : NULL);
    DWORD err = GetLastError();
    if (have_sa)
        free_owner_only(&sa);
    free(w);
    if (ok || err == ERROR_ALREADY_EXISTS)
        return 0;
    return log_error("cannot create directory %s: %s", path, win_strerror(err));
}
