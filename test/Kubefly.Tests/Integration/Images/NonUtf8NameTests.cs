using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Images;

/// <summary>
/// Two entries whose names differ only in bytes that are not UTF-8 must never merge into one file
/// (hardening issue, item 4): the layer is refused, naming the entry by its exact bytes.
/// </summary>
[Trait("Category", "Integration")]
public sealed class NonUtf8NameTests : IDisposable
{
    private readonly TempDirectory _state = new("kubefly-state");
    private readonly TempDirectory _layout = new("kubefly-layout");

    public void Dispose()
    {
        _state.Dispose();
        _layout.Dispose();
    }

    [Fact]
    public void EntriesBadXffXfeNameAndBadXfdXfcNameAreRefusedNotMerged()
    {
        byte[] tar = [.. Entry(0xff, 0xfe, "first"), .. Entry(0xfd, 0xfc, "second"), .. new byte[1024]];
        var layout = new OciLayoutBuilder(_layout.Path);
        layout.AddImage([tar], LayerCompression.Gzip, Platform.Host, tag: "t");

        var fetch = KubeflyProcess.Run(["--dir", _state.Path, "fetch", "--quiet", $"oci:{_layout.Path}:t"]);

        Assert.Equal(254, fetch.ExitCode);
        Assert.Contains("entry \"bad\\xff\\xfename\"", fetch.StandardError);
        Assert.Contains("not valid UTF-8", fetch.StandardError);
        Assert.DoesNotContain("\uFFFD", fetch.StandardError);
        Assert.Empty(Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_state.Path, "images", "records")));
    }

    private static byte[] Entry(byte first, byte second, string content)
    {
        var entry = TarBuilder.RawEntry("badXXname", '0', data: System.Text.Encoding.ASCII.GetBytes(content));
        entry[3] = first;
        entry[4] = second;
        var header = entry[..512];
        TarBuilder.SetChecksum(header);
        header.CopyTo(entry, 0);
        return entry;
    }
}
