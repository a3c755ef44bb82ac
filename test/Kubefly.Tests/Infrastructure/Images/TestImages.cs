using Kubefly.Oci;

namespace Kubefly.Tests.Infrastructure.Images;

/// <summary>
/// The images the test suite runs, built offline from Debian's busybox-static, once per test run.
/// One OCI layout holds them all, tagged by purpose.
/// </summary>
public static class TestImages
{
    public const string Busybox = "busybox";
    public const string MultiLayer = "multilayer";
    public const string MultiPlatform = "multiplatform";
    public const string Zstd = "zstd";
    public const string Uncompressed = "uncompressed";

    // Built once per test run: two test classes pack etcd (about 25 MB).
    private static readonly Lazy<byte[]> EtcdLayerBytes = new(BuildEtcdLayer, LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly Lazy<string> LayoutDirectory = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Layout => LayoutDirectory.Value;

    public static string Reference(string tag) => $"oci:{Layout}:{tag}";

    /// <summary>The <see cref="BusyboxRootfs"/> as a layer.</summary>
    public static byte[] BusyboxLayer()
    {
        var tar = new TarBuilder()
            .Dir("bin/")
            .HostFile("bin/busybox", BusyboxRootfs.BusyboxPath, 0b111_101_101);
        foreach (var applet in BusyboxRootfs.Applets)
        {
            tar.Symlink($"bin/{applet}", "busybox");
        }

        tar.Dir("etc/").File("etc/passwd", BusyboxRootfs.Passwd).File("etc/group", BusyboxRootfs.Group);
        foreach (var (path, mode) in BusyboxRootfs.Directories)
        {
            tar.Dir(path + "/", (int)mode);
        }

        return tar.Build();
    }

    /// <summary>/usr/bin/etcd with the shared libraries ldd names (the test image has no libc of its own).</summary>
    public static byte[] EtcdLayer() => EtcdLayerBytes.Value;

    private static byte[] BuildEtcdLayer()
    {
        var tar = new TarBuilder().Dir("usr/").Dir("usr/bin/").HostFile("usr/bin/etcd", "/usr/bin/etcd", 0b111_101_101);
        var directories = new HashSet<string>(StringComparer.Ordinal) { "usr/", "usr/bin/" };
        foreach (var line in ProgramRunner.Shell("ldd /usr/bin/etcd").Split('\n'))
        {
            var path = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries).FirstOrDefault(p => p.StartsWith('/'));
            if (path is null)
            {
                continue;
            }

            var relative = path.TrimStart('/');
            var parts = relative.Split('/');
            for (var i = 1; i < parts.Length; i++)
            {
                var dir = string.Join('/', parts[..i]) + "/";
                if (directories.Add(dir))
                {
                    tar.Dir(dir);
                }
            }

            tar.HostFile(relative, path, 0b111_101_101);
        }

        return tar.Dir("var/").Dir("var/lib/").Dir("var/lib/etcd/", 0b111_000_000).Build();
    }

    /// <summary>A second and third layer with every entry kind and both whiteout forms.</summary>
    public static IReadOnlyList<byte[]> MultiLayerLayers()
    {
        var lower = new TarBuilder()
            .Dir("data/")
            .File("data/keep.txt", "keep\n")
            .File("data/remove-me.txt", "gone\n")
            .Dir("data/opaque/")
            .File("data/opaque/old.txt", "old\n")
            .Dir("data/owned/", 0b111_101_000, uid: 1234, gid: 5678)
            .File("data/owned/file", "owned\n", 0b110_100_000, uid: 1234, gid: 5678)
            .File("data/setuid", "suid\n", 0b100_111_101_101)
            .Build();
        var upper = new TarBuilder()
            .File("data/.wh.remove-me.txt", string.Empty)
            .Dir("data/opaque/")
            .File("data/opaque/.wh..wh..opq", string.Empty)
            .File("data/opaque/new.txt", "new\n")
            .File("data/hardlink-source", "linked\n")
            .Hardlink("data/hardlink", "data/hardlink-source")
            .Symlink("data/link-relative", "keep.txt")
            .Symlink("data/link-absolute", "/data/keep.txt")
            .CharDevice("data/null", 1, 3)
            .Fifo("data/fifo")
            .File("data/xattr", "x\n"u8.ToArray(), xattrs: new Dictionary<string, string> { ["user.kubefly"] = "yes" })
            .Build();
        return [lower, upper];
    }

    private static string Build()
    {
        var directory = Path.Combine(Path.GetTempPath(), "kubefly-test-images-" + Environment.ProcessId);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        var layout = new OciLayoutBuilder(directory);
        var busybox = BusyboxLayer();
        var host = Platform.Host;
        layout.AddImage([busybox], LayerCompression.Gzip, host, tag: Busybox);
        layout.AddImage([busybox, .. MultiLayerLayers()], LayerCompression.Gzip, host, tag: MultiLayer);
        layout.AddImage([busybox], LayerCompression.Zstd, host, tag: Zstd);
        layout.AddImage([busybox], LayerCompression.None, host, tag: Uncompressed);

        // The host's entry carries busybox; the others carry a marker file naming their platform.
        var entries = new List<Descriptor>();
        foreach (var platform in new[] { new Platform("linux", "arm", "v6"), new Platform("linux", "arm", "v7"), new Platform("linux", "arm64", "v8"), new Platform("linux", "s390x"), host })
        {
            var content = platform == host ? busybox : new TarBuilder().File("platform", platform.ToString()).Build();
            if (platform == host && entries.Exists(e => e.Platform!.Architecture == host.Architecture))
            {
                continue;
            }

            entries.Add(layout.AddImage([content], LayerCompression.Gzip, platform));
        }

        layout.AddIndex(entries, MultiPlatform);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            if (Environment.GetEnvironmentVariable("KUBEFLY_KEEP_TEST_IMAGES") == "1")
            {
                return;
            }

            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        };
        return directory;
    }
}
