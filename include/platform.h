/* platform.h - everything that differs between POSIX and Windows.
 *
 * No other file may use #ifdef _WIN32; platform_posix.c and platform_win32.c
 * implement this contract. Functions return 0 on success and -1 after logging
 * an error that names the path and the remedy. */
#ifndef DUALSYNC_PLATFORM_H
#define DUALSYNC_PLATFORM_H

#include "compat.h"

struct strbuf;

/* Process set-up at start. On POSIX: ignore SIGPIPE, so that a peer closing a
 * socket (libldap writes without MSG_NOSIGNAL) or a closed output pipe is an
 * error we report, not a silent death. */
void platform_init(void);

/* The command line in UTF-8. POSIX: argv as it is. Windows: rebuilt from the
 * wide command line, since the C runtime's argv is in the ANSI code page and
 * cannot hold every name. Call first thing in main; the strings live as long
 * as the process. */
void platform_args(int *argc, char ***argv);

/* Where the configuration lives when no -c is given and there is no
 * dualsync.conf in the current directory: /etc/dualsync on POSIX,
 * %ProgramData%\dualsync on Windows. */
const char *platform_config_dir(void);

/* Read a secret (password, client secret) from a file into out, without its
 * trailing newline. Refuses, as ssh does for keys, a file that group or others
 * can read, and says how to fix it. `what` names the secret in messages.
 *
 * A path of the form "credential:NAME" names a secret in the operating
 * system's credential store instead of a file (dualsync.conf(5)):
 *   POSIX: the file NAME in $CREDENTIALS_DIRECTORY, which systemd fills from
 *          LoadCredential=/SetCredentialEncrypted= of the unit (see
 *          scripts/systemd/);
 *   Windows: the generic credential NAME in the Credential Manager of the
 *          account that runs dualsync (cmdkey /generic:NAME ...), kept by
 *          Windows under DPAPI.
 * On Windows "readable by group or others" means: the file's DACL lets an
 * account other than its owner, SYSTEM and Administrators read it. */
int platform_read_secret_file(const char *path, const char *what, struct strbuf *out);
/* The OS half of it: the file's (or credential's) bytes, checked as above
 * and, on Windows, DPAPI removed; the line ends are platform.c's. */
int platform_read_secret_raw(const char *path, const char *what, struct strbuf *out);

/* DPAPI (Windows): a secret file may hold the secret protected with
 * CryptProtectData instead of in clear, as `dualsync protect-secret` or
 * PowerShell's ProtectedData.Protect write it (doc/deployment.md);
 * platform_read_secret_file recognizes it by the DPAPI blob's header and
 * returns the clear secret. Such a file is bound to the machine (machine)
 * or to the account that protected it.
 * platform_protect_secret protects secret[0..len) into out (appended).
 * POSIX has no DPAPI: -1 with the remedy (systemd credentials). */
int platform_protect_secret(const char *secret, size_t len, bool machine, struct strbuf *out);

/* Sign data with the private key of a certificate in the Windows store
 * (cert_thumbprint, cert_store), which never leaves its key storage
 * provider: the certificate with this SHA-1 thumbprint (40 hex digits) in
 * the "MY" store of LocalMachine (machine) or CurrentUser; SHA-256 from
 * BCrypt, then RSASSA-PSS (*pss; salt 32, MGF1 SHA-256) or PKCS#1 v1.5 with
 * NCryptSignHash (a CNG key) or CryptSignHash (a legacy CryptoAPI key,
 * which signs PKCS#1 v1.5 only). Appends the big-endian signature to sig
 * and the certificate's DER to cert (for the thumbprint header).
 * data NULL: only look up the certificate (sig unused), and clear *pss when
 * the key cannot sign PSS, so that the caller announces RS256.
 * 0, or -1 after logging what is missing and the remedy. POSIX: -1. */
int platform_cert_sign(bool machine, const char *thumbprint, bool *pss, const void *data, size_t len,
                       struct strbuf *sig, struct strbuf *cert);

/* The proxy the system names for url (an https:// URL), when neither the
 * configuration nor the environment (https_proxy, all_proxy) names one.
 * Windows, as WinHTTP decides: the machine's WinHTTP proxy (netsh winhttp
 * set proxy) first, what a service normally follows, then the Internet
 * Options of the account that runs dualsync: a named proxy, or a PAC file
 * (its URL, or WPAD's automatic detection) that WinHttpGetProxyForUrl
 * evaluates for url; each with its bypass list. Returns 0 with the proxy as
 * a URL ("http://host:port") in proxy and where it came from in source
 * (for check), or 1 when the system names none or bypasses url (POSIX
 * always: the environment is libcurl's own). */
int platform_system_proxy(const char *url, struct strbuf *proxy, struct strbuf *source);

/* A batch's outcome in the system's event log, as Entra Connect logs its
 * own cycles. Windows: the Application log, source "dualsync"
 * (ReportEvent; doc/deployment.md lists the event IDs), nothing said when
 * it cannot be written. POSIX: nothing (the journal has stdout). */
enum platform_event { PLATFORM_EVENT_INFO, PLATFORM_EVENT_WARNING, PLATFORM_EVENT_ERROR };
void platform_event_log(enum platform_event type, unsigned id, const char *message);

/* Read a secret typed or piped on standard input into out, without its
 * trailing line break; on a terminal without echo, after prompt (on
 * stderr). 0, or -1 after logging (nothing read, or an empty line). */
int platform_read_secret_stdin(const char *prompt, struct strbuf *out);
/* The OS half of it: if standard input is a terminal (console), show prompt
 * on stderr, turn its echo off and return true; echo_restore turns it back
 * on (and ends the prompt's line). false: input is a pipe or file. */
bool platform_stdin_echo_off(const char *prompt);
void platform_stdin_echo_restore(void);

/* Check a secret file without reading it (config time): 0 if it is a regular
 * file that only its owner can read, or if it does not exist yet (the command
 * that needs the secret reports that); otherwise -1 with the reason and the
 * remedy in why ("is readable by group or others (mode 0644); run: chmod 600 F").
 * A "credential:NAME" is checked when it is read (it may exist only in the
 * service's environment). */
int platform_check_secret_file(const char *path, char *why, size_t size);

/* The certificate authorities a TLS client of this machine trusts, as PEM,
 * for a client that must check the chain itself (libcurl's Schannel
 * backend with CURLOPT_CAINFO_BLOB). Returns 0 and out (appended), 1 when
 * the TLS library's own default is the machine's trust (POSIX: libcurl's CA
 * bundle; nothing appended), or -1 after logging.
 * Windows: the Trusted Root Certification Authorities of the account that
 * runs dualsync, which include the machine's (Cert:\LocalMachine\Root).
 * Why not leave it to Schannel (SCH_CRED_AUTO_CRED_VALIDATION): Wine's
 * Schannel never checks the chain, so nothing under Wine would prove that
 * the check is made; with the roots handed over, libcurl verifies chain and
 * host name through CertGetCertificateChain on Windows and Wine alike. */
int platform_tls_roots(struct strbuf *out);

/* Overwrite and free a secret held in memory. */
void platform_wipe(struct strbuf *secret);

/* Overwrite len bytes that held a secret, in a way the compiler cannot drop
 * (explicit_bzero, SecureZeroMemory). */
void platform_wipe_mem(void *p, size_t len);

/* Seconds on a clock that never jumps (CLOCK_MONOTONIC, QueryPerformanceCounter):
 * for timeouts, pacing and backoff, never for dates. */
double platform_monotonic(void);

/* Sleep for `seconds` (fractions too), resuming after a signal. */
void platform_sleep(double seconds);

/* Write data to path atomically (platform_atomic_open, _write, _commit):
 * on failure path is untouched and no temporary file is left. */
int platform_write_file_atomic(const char *path, const void *data, size_t len);

/* What is at path (following symbolic links): a report's -o FILE is written
 * atomically only over a regular file or a new name; a pipe or a device
 * (/dev/stdout, /dev/null) must be written into, never replaced. Returns 0
 * and *kind, or -1 after logging (a path that cannot be looked at). */
enum platform_path_kind {
    PLATFORM_PATH_NONE,        /* nothing there */
    PLATFORM_PATH_FILE,        /* a regular file */
    PLATFORM_PATH_DIR,
    PLATFORM_PATH_OTHER,       /* a device, pipe, socket */
};
int platform_path_kind(const char *path, enum platform_path_kind *kind);

/* True if the stream is a terminal. */
bool platform_isatty(FILE *f);

/* ---- Files that must survive a crash (the mapping store) ----------------
 *
 * Every file created here is readable and writable by its owner only (0600 on
 * POSIX; on Windows an ACL for the owner). Each call returns 0 on success and
 * -1 after logging an error that names the path, unless it says otherwise. */

/* The identity of a file: POSIX device and inode; Windows volume serial
 * number and file index. Two reads of one path that give the same identity
 * read the same file (nobody replaced it in between). */
struct platform_file_id {
    uint64_t volume;
    uint64_t index;
};

/* Read the whole of path into out (NUL-terminated; out->len is the file size).
 * Returns 0, 1 if path does not exist (out untouched, nothing logged), or -1.
 * id, if not NULL, receives the identity of the file that was read. The file
 * is opened so that a writer may replace it while it is read (Windows:
 * FILE_SHARE_DELETE), and is closed on return. */
int platform_read_file(const char *path, struct strbuf *out, struct platform_file_id *id);

/* The identity of path: 0, 1 if it does not exist, or -1. */
int platform_file_identity(const char *path, struct platform_file_id *id);

/* A file open for writing. Writes go straight to the OS (no user-space
 * buffer), so that a line written before the process is killed is in the
 * file; platform_file_sync makes it survive a power cut as well. */
struct platform_file;

enum platform_open_mode {
    /* create a file that does not exist yet: fails if anything is at path,
     * a symbolic link included, which is never followed (O_CREAT | O_EXCL |
     * O_NOFOLLOW; Windows CREATE_NEW | FILE_FLAG_OPEN_REPARSE_POINT) */
    PLATFORM_CREATE_NEW,
    PLATFORM_APPEND,        /* create if missing, write at the end */
};
int platform_file_open(const char *path, enum platform_open_mode mode, struct platform_file **out);
/* Write all of data (retrying short writes). */
int platform_file_write(struct platform_file *f, const void *data, size_t len);
/* Flush the file's data to stable storage (fsync / FlushFileBuffers). */
int platform_file_sync(struct platform_file *f);
/* Cut the file to size bytes; later appends go after them. */
int platform_file_truncate(struct platform_file *f, uint64_t size);
/* Close and free f (NULL is a no-op). A failed close is reported: some file
 * systems report a failed write only there. */
int platform_file_close(struct platform_file *f);

/* ---- Atomic replacement of a whole file ----------------------------------
 *
 * The one way dualsync replaces a file (the mapping store and its journal,
 * the copy of AD, the LDAP watermark, reports, pull -o). git's tempfile.c and
 * curl's curl_fopen.c are the model:
 *   1. platform_atomic_open creates "<path>.tmp-<12 random hex digits>" in
 *      the same directory (a rename stays in one file system) with
 *      PLATFORM_CREATE_NEW: nobody can plant a link at a name they cannot
 *      guess, and one planted anyway is not followed;
 *   2. the caller writes it (platform_atomic_write, or platform_file_write on
 *      platform_atomic_file);
 *   3. platform_atomic_commit flushes it to disk, closes it, renames it over
 *      path (platform_replace) and makes the rename durable
 *      (platform_sync_dir), checking each result.
 * Any failure, or platform_atomic_abort, removes the temporary file; path
 * keeps its old contents. A process killed between 1 and 3 leaves the
 * temporary file; platform_atomic_sweep(path) removes such leftovers, for a
 * caller that holds a lock on path. Commit and abort free the handle. */
struct platform_atomic;
int platform_atomic_open(const char *path, struct platform_atomic **out);
int platform_atomic_write(struct platform_atomic *a, const void *data, size_t len);
struct platform_file *platform_atomic_file(struct platform_atomic *a);
int platform_atomic_commit(struct platform_atomic *a);
void platform_atomic_abort(struct platform_atomic *a);     /* NULL is a no-op */
int platform_atomic_sweep(const char *path);

/* The names in directory dir, "." and ".." left out, in UTF-8 and in no
 * particular order: *names holds *n strings, which the caller frees, and the
 * array. POSIX readdir; Windows FindFirstFileW, so that a name outside the
 * ANSI code page (Windows Server 2016 and 2019 ignore the manifest's UTF-8
 * code page) is read whole. Returns 0; 1 if dir does not exist or is not a
 * directory (nothing logged, *names NULL, *n 0); or -1 after logging. */
int platform_list_dir(const char *dir, char ***names, size_t *n);

/* Remove every file of the directory of `prefix` whose name starts with the
 * last component of prefix (platform_atomic_sweep's leftovers). 0, or -1
 * after logging. */
int platform_remove_prefixed(const char *prefix);

/* Replace `to` by `from` in one atomic step: a reader sees the old file or
 * the new one, never a mix or none. POSIX rename(); Windows MoveFileExW with
 * MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH, retried for a while when
 * a reader holds `to` open. Call platform_sync_dir afterwards to make the
 * new name survive a power cut. */
int platform_replace(const char *from, const char *to);

/* Make the directory entries of the directory that holds path durable
 * (created, renamed and removed names): fsync of the directory on POSIX; a
 * no-op on Windows, where MOVEFILE_WRITE_THROUGH already did it. */
int platform_sync_dir(const char *path);

/* Create directory path (mode 0700: mapping files and audit trails are
 * nobody else's business) if it does not exist; its parent must. 0, or -1
 * after logging why. */
int platform_mkdir(const char *path);

/* Remove path; a missing path is not an error. */
int platform_remove(const char *path);

/* An exclusive lock held by this process on a lock file. The OS releases it
 * when the process ends in any way (crash, kill -9), so a stale lock never
 * blocks the next run: POSIX fcntl record lock (open file description lock
 * where the system has one: reading the lock file then drops nothing);
 * Windows LockFileEx.
 * The lock file is created (0600) if missing and holds the holder's pid as
 * text, for people; it is never removed (removing a lock file races with a
 * process that has just opened it). */
struct platform_lock;

/* Take the lock without waiting. Returns 0 and *out; 1 if another process, or
 * another open in this process, holds it (*holder = its pid, 0 if it cannot be
 * told; nothing logged, so that the caller can say what the lock protects); or
 * -1 after logging an I/O error. */
int platform_lock_acquire(const char *path, struct platform_lock **out, long *holder);
/* Release and free the lock (NULL is a no-op). */
void platform_lock_release(struct platform_lock *lock);

/* This process's id, for messages. */
long platform_pid(void);

#endif
