namespace Kubefly.Tests.Infrastructure;

/// <summary>
/// The one busybox rootfs the tests run apps in (Debian's busybox-static): /bin/busybox with a symlink
/// per applet, the usual top-level directories, and passwd/group with root, user 1000 (in wheel) and nobody.
/// Written as a directory (pod and fly tests) or as the entries of a layer tar (TestImages).
/// </summary>
public static class BusyboxRootfs
{
    public const string BusyboxPath = "/bin/busybox";

    public const string Passwd = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";

    public const string Group = "root:x:0:\nwheel:x:10:user\nstaff:x:50:\nuser:x:1000:\nnogroup:x:65534:\n";

    /// <summary>Directories (relative, with their modes) every rootfs gets besides bin/ and etc/.</summary>
    public static readonly IReadOnlyList<(string Path, UnixFileMode Mode)> Directories =
    [
        ("proc", (UnixFileMode)0b111_101_101),
        ("sys", (UnixFileMode)0b111_101_101),
        ("dev", (UnixFileMode)0b111_101_101),
        ("tmp", (UnixFileMode)0b1_111_111_111),
        ("root", (UnixFileMode)0b111_000_000),
        ("home", (UnixFileMode)0b111_101_101),
        ("home/user", (UnixFileMode)0b111_101_101),
    ];

    private static readonly Lazy<IReadOnlyList<string>> AppletNames = new(() =>
        [.. ProgramRunner.Run(BusyboxPath, ["--list"]).StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(a => a != "busybox")]);

    /// <summary>What `busybox --list` names, busybox itself excepted.</summary>
    public static IReadOnlyList<string> Applets => AppletNames.Value;

    /// <summary>Writes the rootfs into <paramref name="root"/> (created if needed).</summary>
    public static void WriteTo(string root)
    {
        Directory.CreateDirectory(Path.Combine(root, "bin"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        foreach (var (path, mode) in Directories)
        {
            Directory.CreateDirectory(Path.Combine(root, path));
            File.SetUnixFileMode(Path.Combine(root, path), mode);
        }

        File.Copy(BusyboxPath, Path.Combine(root, "bin", "busybox"), overwrite: true);
        foreach (var applet in Applets)
        {
            var link = Path.Combine(root, "bin", applet);
            if (!Path.Exists(link))
            {
                File.CreateSymbolicLink(link, "busybox");
            }
        }

        File.WriteAllText(Path.Combine(root, "etc", "passwd"), Passwd);
        File.WriteAllText(Path.Combine(root, "etc", "group"), Group);
    }
}
