using Kubefly.Oci;

namespace Kubefly.Tests.Unit;

public class DigestTests
{
    private const string Hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    [Fact]
    public void ParsesSha256AndRoundTrips()
    {
        var digest = Digest.Parse("sha256:" + Hex);
        Assert.Equal(Hex, digest.Hex);
        Assert.Equal("sha256:" + Hex, digest.ToString());
        Assert.Equal(digest, Digest.Compute(ReadOnlySpan<byte>.Empty));
    }

    [Theory]
    [InlineData("")]
    [InlineData("sha256:")]
    [InlineData("sha256:../../etc/passwd")]
    [InlineData("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85")]
    [InlineData("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855/..")]
    [InlineData("md5:d41d8cd98f00b204e9800998ecf8427e")]
    [InlineData("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void RejectsAnythingThatIsNotSha256Hex(string text)
    {
        Assert.False(Digest.TryParse(text, out _));
        Assert.Throws<ImageException>(() => Digest.Parse(text));
    }

    [Fact]
    public void DigestingStreamRejectsWrongContentAtEnd()
    {
        var expected = Digest.Compute("hello"u8);
        using var stream = new DigestingStream(new MemoryStream("hellO"u8.ToArray()), "blob", expected, 5);
        var error = Assert.Throws<DigestMismatchException>(() => stream.CopyTo(Stream.Null));
        Assert.Contains("digest mismatch", error.Message);
    }

    [Fact]
    public void DigestingStreamRejectsOversizedContentBeforeReadingItAll()
    {
        using var stream = new DigestingStream(new MemoryStream(new byte[1000]), "blob", Digest.Compute(new byte[10]), 10);
        var error = Assert.Throws<DigestMismatchException>(() => stream.CopyTo(Stream.Null));
        Assert.Contains("more than the expected 10 bytes", error.Message);
    }

    [Fact]
    public void DigestingStreamAcceptsMatchingContent()
    {
        using var stream = new DigestingStream(new MemoryStream("hello"u8.ToArray()), "blob", Digest.Compute("hello"u8), 5);
        stream.CopyTo(Stream.Null);
        Assert.Equal(Digest.Compute("hello"u8), stream.Actual);
    }

    [Fact]
    public void ZeroLengthReadsDoNotEndTheDigest()
    {
        using var stream = new DigestingStream(new MemoryStream("hello"u8.ToArray()), "blob", Digest.Compute("hello"u8), 5);
        var buffer = new byte[2];
        Assert.Equal(0, stream.Read(Span<byte>.Empty));
        Assert.False(stream.Completed);
        while (stream.Read(buffer) > 0)
        {
            Assert.Equal(0, stream.Read(buffer, 0, 0));
        }

        Assert.Equal(Digest.Compute("hello"u8), stream.Actual);
    }
}
