/* A stand-in for Windows' bcryptprimitives.dll, for the Wine test only (tests/packaging/test_msi.py).
 *
 * Why: the Rust extension of `cryptography` (_rust.pyd) imports ProcessPrng from
 * bcryptprimitives.dll, as Rust's standard library does since 1.78. Every Windows the agent
 * supports (8 and later) has that DLL; Wine has it from 9.0, but Debian 12's Wine 8 does not,
 * so without this stand-in the agent's Windows build cannot even start under Wine there.
 * The test builds it with Debian's MinGW compiler into its own temporary Wine prefix's system32,
 * and only when Wine has not put a bcryptprimitives.dll there itself. It never goes into the
 * MSI or the runtime zip: a real Windows loads its own.
 *
 * What it implements: the DLL's one export that matters, ProcessPrng (the process-wide CSPRNG
 * behind BCryptGenRandom). Like the real one it fills the whole buffer with random bytes from
 * the system's preferred RNG (BCryptGenRandom with BCRYPT_USE_SYSTEM_PREFERRED_RNG; under Wine,
 * the host kernel's getrandom) and always returns TRUE. Callers (Rust's std, the getrandom
 * crate) rely on that and do not check the result, so if the system RNG ever fails, the process
 * is ended (fail-fast) rather than handed a buffer that is not random.
 *
 *   x86_64-w64-mingw32-gcc -O2 -shared -s -Wl,--no-insert-timestamp \
 *       -o bcryptprimitives.dll bcryptprimitives.c -lbcrypt
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size)
{
    while (size > 0) {
        /* BCryptGenRandom takes a ULONG length: fill larger buffers in chunks. */
        ULONG chunk = size > 0x10000000 ? 0x10000000 : (ULONG)size;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
            RaiseFailFastException(NULL, NULL, 0);
            TerminateProcess(GetCurrentProcess(), (UINT)STATUS_FATAL_APP_EXIT);
        }
        data += chunk;
        size -= chunk;
    }
    return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, LPVOID reserved)
{
    (void)instance;
    (void)reason;
    (void)reserved;
    return TRUE;
}
