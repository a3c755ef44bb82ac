namespace Kubefly.Linux;

/// <summary>
/// kubefly writes its state as root, so it never lets the caller's umask decide who may write there:
/// a umask of 000 made the state directory world-writable, and a local user could plant an image that
/// root then ran. The caller's mask comes back just before exec, so the app sees the umask it was
/// started with, as under rkt.
/// </summary>
public static class FileCreationMask
{
    /// <summary>Group and others never get write permission on what kubefly creates.</summary>
    public const uint Hardened = 0x12; // 022

    private static uint? caller;

    /// <summary>Sets <see cref="Hardened"/>, keeping the caller's mask for <see cref="RestoreForExec"/>. Idempotent.</summary>
    public static void Harden()
    {
        var previous = Interop.SetFileCreationMask(Hardened);
        caller ??= previous;
    }

    /// <summary>Puts back the caller's mask (when <see cref="Harden"/> ran) right before an exec.</summary>
    public static void RestoreForExec()
    {
        if (caller is { } mask)
        {
            Interop.SetFileCreationMask(mask);
        }
    }
}
