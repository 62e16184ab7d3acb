/* win_import_pfx.c - tests only (Windows, Wine): put a PKCS#12 file's
 * certificate and private key into the "MY" store, as Import-PfxCertificate
 * does, for test_windows.sh (Wine has no Import-PfxCertificate and its
 * certutil has no -importpfx).
 *
 *     win_import_pfx.exe FILE.pfx PASSWORD LocalMachine|CurrentUser [cng]
 *
 * "cng" asks for the key in a CNG key storage provider (PKCS12_ALWAYS_CNG_KSP);
 * without it the key goes where PFXImportCertStore puts it by default.
 * Prints the certificate's SHA-1 thumbprint (the store's name for it). */
#include <stdbool.h>
#include <windows.h>
#include <wincrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 4)
        return fprintf(stderr, "usage: win_import_pfx FILE.pfx PASSWORD LocalMachine|CurrentUser [cng]\n"), 2;
    bool machine = !_stricmp(argv[3], "LocalMachine");
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return fprintf(stderr, "%s: cannot open\n", argv[1]), 1;
    static BYTE buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    wchar_t pw[256];
    MultiByteToWideChar(CP_UTF8, 0, argv[2], -1, pw, 256);
    CRYPT_DATA_BLOB blob = { (DWORD)n, buf };
    DWORD flags = (machine ? CRYPT_MACHINE_KEYSET : CRYPT_USER_KEYSET)
                  | (argc > 4 && !strcmp(argv[4], "cng") ? PKCS12_ALWAYS_CNG_KSP : 0);
    HCERTSTORE pfx = PFXImportCertStore(&blob, pw, flags);
    if (!pfx)
        return fprintf(stderr, "PFXImportCertStore: error %lu\n", GetLastError()), 1;
    HCERTSTORE my = CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0,
                                  machine ? CERT_SYSTEM_STORE_LOCAL_MACHINE : CERT_SYSTEM_STORE_CURRENT_USER,
                                  L"MY");
    if (!my)
        return fprintf(stderr, "CertOpenStore MY: error %lu\n", GetLastError()), 1;
    PCCERT_CONTEXT c = NULL;
    int added = 0;
    while ((c = CertEnumCertificatesInStore(pfx, c))) {
        DWORD sz = 0;
        if (!CertGetCertificateContextProperty(c, CERT_KEY_PROV_INFO_PROP_ID, NULL, &sz))
            continue;   /* only the certificate that has the key */
        if (!CertAddCertificateContextToStore(my, c, CERT_STORE_ADD_REPLACE_EXISTING, NULL))
            return fprintf(stderr, "CertAddCertificateContextToStore: error %lu\n", GetLastError()), 1;
        BYTE h[20];
        DWORD hl = sizeof(h);
        CertGetCertificateContextProperty(c, CERT_SHA1_HASH_PROP_ID, h, &hl);
        for (DWORD i = 0; i < hl; i++)
            printf("%02X", h[i]);
        printf("\n");
        added++;
    }
    CertCloseStore(my, 0);
    CertCloseStore(pfx, 0);
    return added ? 0 : (fprintf(stderr, "no certificate with a private key in %s\n", argv[1]), 1);
}
