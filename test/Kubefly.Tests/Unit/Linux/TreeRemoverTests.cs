using System.Runtime.InteropServices;
using System.Text;
using Kubefly.Linux;
using Kubefly.Tests.Infrastructure;
using Microsoft.Win32.SafeHandles;

namespace Kubefly.Tests.Unit.Linux;

/// <summary>
/// <see cref="TreeRemover"/> against real trees: deeper and with longer paths than any path-string API
/// handles, names that are not UTF-8, symlinks out of the tree and mounts inside it (tests run as root).
/// </summary>
public sealed class TreeRemoverTests : IDisposable
{
    private readonly TempDirectory _temp = new("kubefly-remover");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public void RemovesAChainOf4096DirectoriesWithLongNamesAtTheBottom()
    {
        var tree = _temp.Combine("tree");
        Directory.CreateDirectory(tree);
        using (var bottom = MakeChain(tree, "a", 4096))
        {
            CreateFile(bottom, Encoding.ASCII.GetBytes(new string('n', 255)));
        }

        TreeRemover.Remove(tree);

        Assert.False(Path.Exists(tree));
        Assert.Empty(Directory.GetFileSystemEntries(_temp.Path));
    }

    [Fact]
    public void RemovesDeepChainsOfMaximalNamesAndWideDirectories()
    {
        // 200 levels of 255-byte names (a 51,000-byte path), each level with 50 files beside the next directory.
        var tree = _temp.Combine("tree");
        Directory.CreateDirectory(tree);
        var name = new string('d', 255);
        using var root = Interop.OpenDirectory(tree);
        var current = root;
        var opened = new List<SafeFileHandle>();
        for (var level = 0; level < 200; level++)
        {
            for (var i = 0; i < 50; i++)
            {
                CreateFile(current, Encoding.ASCII.GetBytes($"file-{i}"));
            }

            Assert.Equal(0, Interop.TryMkdirat(current, name, 0b111_101_101));
            Assert.Equal(0, Interop.TryOpenat(current, name, Interop.O_RDONLY | Interop.O_DIRECTORY, 0, out var next));
            opened.Add(next);
            current = next;
        }

        opened.ForEach(handle => handle.Dispose());
        TreeRemover.Remove(tree);
        Assert.False(Path.Exists(tree));
    }

    [Fact]
    public void RemovesNamesThatAreNotUtf8ByteExactly()
    {
        var tree = _temp.Combine("tree");
        Directory.CreateDirectory(tree);
        using (var root = Interop.OpenDirectory(tree))
        {
            CreateFile(root, [(byte)'b', 0xff, 0xfe, (byte)'x']);
            CreateFile(root, [(byte)'b', 0xfd, 0xfc, (byte)'x']);
            Assert.Equal(0, Interop.TryMkdirat(root, "sub", 0b111_101_101));
            Assert.Equal(0, Interop.TryOpenat(root, "sub", Interop.O_RDONLY | Interop.O_DIRECTORY, 0, out var sub));
            using (sub)
            {
                CreateFile(sub, [0x80, 0x81]);
            }
        }

        TreeRemover.Remove(tree);
        Assert.False(Path.Exists(tree));
    }

    [Fact]
    public void SymlinksAreRemovedNeverFollowed()
    {
        var outside = _temp.Combine("outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "precious"), "keep");
        var tree = _temp.Combine("tree");
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        File.CreateSymbolicLink(Path.Combine(tree, "sub", "to-dir"), outside);
        File.CreateSymbolicLink(Path.Combine(tree, "to-file"), Path.Combine(outside, "precious"));
        File.CreateSymbolicLink(Path.Combine(tree, "dangling"), "/nonexistent");
        var topLink = _temp.Combine("top-link");
        File.CreateSymbolicLink(topLink, outside);

        TreeRemover.Remove(tree);
        TreeRemover.Remove(topLink);

        Assert.False(Path.Exists(tree));
        Assert.False(Path.Exists(topLink));
        Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "precious")));
    }

    [Fact]
    [Trait("Requires", "root")]
    public void RefusesToDescendIntoAnotherFilesystemAndLeavesItsFilesAlone()
    {
        var tree = _temp.Combine("tree");
        var mountPoint = Path.Combine(tree, "deep", "mnt");
        Directory.CreateDirectory(mountPoint);
        ProgramRunner.Shell($"mount -t tmpfs kubefly-test {mountPoint}");
        try
        {
            File.WriteAllText(Path.Combine(mountPoint, "other-fs"), "keep");

            var error = Assert.Throws<TreeRemovalException>(() => TreeRemover.Remove(tree));

            Assert.Contains("mnt", error.Message);
            Assert.Contains("mounted", error.Message);
            Assert.Equal("keep", File.ReadAllText(Path.Combine(mountPoint, "other-fs")));
        }
        finally
        {
            ProgramRunner.Shell($"umount {mountPoint}");
        }

        TreeRemover.Remove(tree);
        Assert.False(Path.Exists(tree));
    }

    [Fact]
    [Trait("Requires", "root")]
    public void RefusesABindMountOfTheSameFilesystem()
    {
        // Same device, another mount: only the mount id tells them apart.
        var outside = _temp.Combine("outside");
        Directory.CreateDirectory(outside);
        File.WriteAllText(Path.Combine(outside, "precious"), "keep");
        var tree = _temp.Combine("tree");
        var mountPoint = Path.Combine(tree, "bind");
        Directory.CreateDirectory(mountPoint);
        ProgramRunner.Shell($"mount --bind {outside} {mountPoint}");
        try
        {
            Assert.Throws<TreeRemovalException>(() => TreeRemover.Remove(tree));
            Assert.Throws<TreeRemovalException>(() => TreeRemover.Remove(mountPoint));
            Assert.Equal("keep", File.ReadAllText(Path.Combine(outside, "precious")));
        }
        finally
        {
            ProgramRunner.Shell($"umount {mountPoint}");
        }

        TreeRemover.Remove(tree);
        Assert.False(Path.Exists(tree));
        Assert.True(File.Exists(Path.Combine(outside, "precious")));
    }

    [Fact]
    public void MissingPathsAndPlainFilesAreFine()
    {
        TreeRemover.Remove(_temp.Combine("never-existed"));
        TreeRemover.Remove(_temp.Combine("no-parent", "child"));
        var file = _temp.Combine("file");
        File.WriteAllText(file, "x");
        TreeRemover.Remove(file);
        Assert.False(File.Exists(file));
    }

    /// <summary>Creates <paramref name="depth"/> nested directories named <paramref name="name"/> by descriptor; returns the deepest.</summary>
    internal static SafeFileHandle MakeChain(string root, string name, int depth)
    {
        var current = Interop.OpenDirectory(root);
        for (var level = 0; level < depth; level++)
        {
            Assert.Equal(0, Interop.TryMkdirat(current, name, 0b111_101_101));
            Assert.Equal(0, Interop.TryOpenat(current, name, Interop.O_RDONLY | Interop.O_DIRECTORY, 0, out var next));
            current.Dispose();
            current = next;
        }

        return current;
    }

    private static void CreateFile(SafeHandle directory, byte[] name)
    {
        Assert.Equal(0, Interop.TryOpenatRaw(directory, [.. name, 0], Interop.O_WRONLY | Interop.O_CREAT | Interop.O_EXCL, out var file));
        file.Dispose();
    }
}
