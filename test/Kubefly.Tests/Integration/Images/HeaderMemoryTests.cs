using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Images;

/// <summary>
/// fetch of any layer stays under 100 MiB peak RSS (the child's VmHWM, from /usr/bin/time -v), however
/// large the tar headers it declares (hardening issue, item 2): a 600 MB PAX record or GNU long name,
/// about 600 KB gzipped, is refused at its header, naming the layer and the offset.
/// </summary>
[Trait("Category", "Integration")]
public sealed partial class HeaderMemoryTests : IDisposable
{
    private const long HugeRecord = 600_000_000;
    private const long MaxPeakRssKiB = 100 * 1024;

    private readonly TempDirectory _state = new("kubefly-state");
    private readonly TempDirectory _layouts = new("kubefly-layout");

    public void Dispose()
    {
        _state.Dispose();
        _layouts.Dispose();
    }

    [Fact]
    public void A600MegabytePaxCommentIsRefusedAtItsHeaderWithinTheMemoryBound()
    {
        var (image, layer) = Layout(tar =>
        {
            WritePaxHeader(tar, 'x', "comment", HugeRecord);
            WriteHeader(tar, "file", '0', 0);
        });

        var (result, peakKiB) = FetchMeasured(image);

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"layer {layer}", result.StandardError);
        Assert.Contains("PAX extended header at offset 0 declares 600000", result.StandardError);
        Assert.True(peakKiB < MaxPeakRssKiB, $"peak RSS {peakKiB} KiB\n{result}");
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_state.Path, "images", "tmp")));
    }

    [Theory]
    [InlineData('L', "GNU long name")]
    [InlineData('K', "GNU long link name")]
    [InlineData('g', "PAX global header")]
    public void OtherHugeMetadataHeadersAreRefusedWithinTheMemoryBound(char type, string what)
    {
        var (image, layer) = Layout(tar =>
        {
            WriteHeader(tar, "ordinary", '0', 0);
            WriteHeader(tar, "././@LongLink", type, HugeRecord);
            WriteFill(tar, (byte)'n', HugeRecord);
            WriteHeader(tar, "file", '2', 0);
        });

        var (result, peakKiB) = FetchMeasured(image);

        Assert.Equal(254, result.ExitCode);
        Assert.Contains($"layer {layer}", result.StandardError);
        Assert.Contains($"{what} at offset 512 declares 600000000 bytes", result.StandardError);
        Assert.True(peakKiB < MaxPeakRssKiB, $"peak RSS {peakKiB} KiB\n{result}");
    }

    [Fact]
    public void AnOrdinaryLayerWithA300MegabyteFileFetchesWithinTheMemoryBound()
    {
        const long size = 300_000_000;
        var (image, _) = Layout(tar =>
        {
            WriteHeader(tar, "big", '0', size);
            WriteFill(tar, 0, size);
        });

        var (result, peakKiB) = FetchMeasured(image);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(peakKiB < MaxPeakRssKiB, $"peak RSS {peakKiB} KiB\n{result}");
        var layer = Assert.Single(Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")));
        Assert.Equal(size, new FileInfo(Path.Combine(layer, "big")).Length);
    }

    /// <summary>Streams a gzipped layer into a fresh layout (never whole in memory); returns the reference and the layer digest.</summary>
    private (string Reference, Digest Layer) Layout(Action<Stream> writeTar)
    {
        var directory = _layouts.Combine(Guid.NewGuid().ToString("N"));
        var layout = new OciLayoutBuilder(directory);
        var blobPath = Path.Combine(directory, "layer.tmp");
        Digest diffId;
        using (var file = File.Create(blobPath))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        using (var hashing = new HashingStream(gzip))
        {
            writeTar(hashing);
            hashing.Write(new byte[1024]);
            diffId = Digest.Parse("sha256:" + Convert.ToHexStringLower(hashing.Hash()));
        }

        Digest blob;
        using (var file = File.OpenRead(blobPath))
        {
            blob = Digest.Parse("sha256:" + Convert.ToHexStringLower(SHA256.HashData(file)));
        }

        var size = new FileInfo(blobPath).Length;
        File.Move(blobPath, layout.BlobPath(blob));
        layout.AddImageWithLayerBlobs([new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = blob, Size = size }], [diffId], Platform.Host, tag: "t");
        return ($"oci:{directory}:t", blob);
    }

    private (ProcessResult Result, long PeakKiB) FetchMeasured(string image)
    {
        var result = ProgramRunner.Run("/usr/bin/time", ["-v", KubeflyProcess.BinaryPath, "--dir", _state.Path, "fetch", "--quiet", image]);
        var match = MaxRss().Match(result.StandardError);
        Assert.True(match.Success, result.ToString());
        return (result, long.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    private static void WritePaxHeader(Stream tar, char type, string key, long recordLength)
    {
        // One record "LEN key=vvvv...\n" of exactly recordLength bytes.
        var prefix = Encoding.ASCII.GetBytes($"{recordLength} {key}=");
        WriteHeader(tar, "PaxHeaders/x", type, recordLength);
        tar.Write(prefix);
        WriteFill(tar, (byte)'c', recordLength - prefix.Length - 1, pad: false);
        tar.WriteByte((byte)'\n');
        Pad(tar, recordLength);
    }

    private static void WriteHeader(Stream tar, string name, char type, long size)
    {
        var header = new byte[512];
        Encoding.ASCII.GetBytes(name).CopyTo(header, 0);
        Encoding.ASCII.GetBytes("0000644\0").CopyTo(header, 100);
        Encoding.ASCII.GetBytes("0000000\0").CopyTo(header, 108);
        Encoding.ASCII.GetBytes("0000000\0").CopyTo(header, 116);
        Encoding.ASCII.GetBytes(Convert.ToString(size, 8).PadLeft(11, '0') + "\0").CopyTo(header, 124);
        Encoding.ASCII.GetBytes("14000000000\0").CopyTo(header, 136);
        header[156] = (byte)type;
        if (type == '2')
        {
            Encoding.ASCII.GetBytes("target").CopyTo(header, 157);
        }

        Encoding.ASCII.GetBytes("ustar\0" + "00").CopyTo(header, 257);
        header.AsSpan(148, 8).Fill((byte)' ');
        var sum = header.Sum(b => (int)b);
        Encoding.ASCII.GetBytes(Convert.ToString(sum, 8).PadLeft(6, '0') + "\0 ").CopyTo(header, 148);
        tar.Write(header);
    }

    private static void WriteFill(Stream tar, byte value, long count, bool pad = true)
    {
        var chunk = new byte[1 << 20];
        chunk.AsSpan().Fill(value);
        for (var left = count; left > 0; left -= chunk.Length)
        {
            tar.Write(chunk, 0, (int)Math.Min(left, chunk.Length));
        }

        if (pad)
        {
            Pad(tar, count);
        }
    }

    private static void Pad(Stream tar, long size) => tar.Write(new byte[(512 - (size % 512)) % 512]);

    [GeneratedRegex(@"Maximum resident set size \(kbytes\): (\d+)")]
    private static partial Regex MaxRss();

    /// <summary>Hashes what is written through it (the diff_id), forwarding everything.</summary>
    private sealed class HashingStream(Stream inner) : Stream
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public byte[] Hash() => _hash.GetCurrentHash();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _hash.AppendData(buffer);
            inner.Write(buffer);
        }

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _hash.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
