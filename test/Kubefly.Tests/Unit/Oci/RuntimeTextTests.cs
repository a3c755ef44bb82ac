using Kubefly.Oci;

namespace Kubefly.Tests.Unit.Oci;

public sealed class RuntimeTextTests
{
    /// <summary>
    /// Found by running the hostile-layer corpus through the binary: System.Formats.Tar's resource keys
    /// have no underscore ("ExtHeaderInvalidRecords"), so one reached the user as "malformed tar: ...".
    /// </summary>
    [Theory]
    [InlineData("ExtHeaderInvalidRecords")]
    [InlineData("TarInvalidChecksum")]
    [InlineData("UnsupportedCompression")] // what GZipStream throws for a flipped byte in a layer (a CI failure)
    [InlineData("InvalidHuffmanData")]
    [InlineData("GenericInvalidData")]
    [InlineData("IO_PathNotFound_Path, /x")]
    [InlineData("net_http_client_execution_error")]
    [InlineData("Arg_EmptyString")]
    public void Resource_keys_with_and_without_underscores_are_recognised(string message) =>
        Assert.True(RuntimeText.IsResourceKey(message));

    [Theory]
    [InlineData("the data ends early")]
    [InlineData("Permission denied")]
    [InlineData("Truncated")]
    [InlineData("invalid digest \"sha256:x\"")]
    public void Plain_text_is_not_a_resource_key(string message) =>
        Assert.False(RuntimeText.IsResourceKey(message));

    [Fact]
    public void A_tar_key_is_described_in_kubeflys_words()
    {
        var text = RuntimeText.Describe(new InvalidDataException("ExtHeaderInvalidRecords"));

        Assert.Equal("malformed data", text);
    }

    [Fact]
    public void A_cause_without_a_message_adds_no_dangling_colon()
    {
        var text = RuntimeText.Describe(new InvalidDataException("GenericInvalidData", new IOException(string.Empty)));

        Assert.Equal("malformed data", text);
    }

    [Fact]
    public void A_key_with_an_empty_argument_adds_no_dangling_colon() =>
        Assert.Equal("malformed data", RuntimeText.Describe(new InvalidDataException("TarInvalidChecksum, ")));
}
