using System.Text.Json;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Images;

/// <summary>
/// One corrupt image record is reported, removable and harmless to every other image (hardening issue, item 5).
/// </summary>
[Trait("Category", "Integration")]
public sealed class CorruptRecordTests : IDisposable
{
    private const string OtherId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    private readonly TempDirectory _state = new("kubefly-state");

    public void Dispose() => _state.Dispose();

    private string Records => Path.Combine(_state.Path, "images", "records");

    [Fact]
    public void AGarbageRecordDoesNotStopRunOrListOfAnotherImage()
    {
        var busybox = Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox));
        Assert.True(busybox.ExitCode == 0, busybox.ToString());
        File.WriteAllText(Path.Combine(Records, OtherId + ".json"), "garbage\n");

        var run = Kubefly("run", "--insecure-options=image", TestImages.Reference(TestImages.Busybox), "--exec=/bin/echo", "--", "ran");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("ran\n", run.StandardOutput);

        var list = Kubefly("image", "list", "--full");
        Assert.True(list.ExitCode == 0, list.ToString());
        Assert.Contains(busybox.StandardOutput.Trim(), list.StandardOutput);
        Assert.Contains($"<corrupt record {Path.Combine(Records, OtherId + ".json")}>", list.StandardOutput);
        Assert.Contains("corrupt image record", list.StandardError);
        Assert.DoesNotMatch(@"\b[A-Z][A-Za-z]+_[A-Z][A-Za-z_]+\b|\w+Exception\b|ExpectedStartOfValue", list.StandardError);

        var json = JsonDocument.Parse(Kubefly("image", "list", "--format=json").StandardOutput).RootElement.EnumerateArray().ToList();
        Assert.Equal(2, json.Count);
        var corrupt = Assert.Single(json, e => e.TryGetProperty("corrupt", out _));
        Assert.Equal("sha256:" + OtherId, corrupt.GetProperty("id").GetString());
        Assert.EndsWith(OtherId + ".json", corrupt.GetProperty("file").GetString());
    }

    [Theory]
    [InlineData("sha256:" + OtherId)]
    [InlineData(OtherId + ".json")]
    [InlineData("sha256-0123456789ab")]
    public void ImageRmRemovesACorruptRecordByItsIdOrFileName(string name)
    {
        Assert.Equal(0, Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox)).ExitCode);
        File.WriteAllText(Path.Combine(Records, OtherId + ".json"), "{\"manifestDigest\": 7}");

        var rm = Kubefly("image", "rm", name);

        Assert.True(rm.ExitCode == 0, rm.ToString());
        Assert.Contains("successfully removed corrupt image record", rm.StandardOutput);
        Assert.False(File.Exists(Path.Combine(Records, OtherId + ".json")));
        Assert.Single(Directory.GetFiles(Records));
    }

    [Fact]
    public void ImageGcRemovesCorruptRecordsOfAnyKindAndKeepsGoodImages()
    {
        Assert.Equal(0, Kubefly("fetch", "--quiet", TestImages.Reference(TestImages.Busybox)).ExitCode);
        File.WriteAllText(Path.Combine(Records, OtherId + ".json"), string.Empty);
        File.WriteAllBytes(Path.Combine(Records, "not-a-digest.json"), [0xff, 0xfe, 0x00]);
        Directory.CreateDirectory(Path.Combine(Records, "a-directory.json"));
        File.WriteAllText(Path.Combine(Records, "truncated.json"), "{\"manifestDigest\": \"sha256:" + OtherId + "\", \"names\": [");

        var list = Kubefly("image", "list");
        Assert.True(list.ExitCode == 0, list.ToString());
        var gc = Kubefly("image", "gc");

        Assert.True(gc.ExitCode == 0, gc.ToString());
        Assert.Contains("removing corrupt image record", gc.StandardOutput);
        Assert.False(File.Exists(Path.Combine(Records, OtherId + ".json")));
        Assert.False(File.Exists(Path.Combine(Records, "not-a-digest.json")));
        Assert.False(File.Exists(Path.Combine(Records, "truncated.json")));
        var fetchAgain = Kubefly("fetch", "--quiet", "--pull-policy=never", TestImages.Reference(TestImages.Busybox));
        Assert.True(fetchAgain.ExitCode == 0, fetchAgain.ToString());
    }

    private ProcessResult Kubefly(params string[] arguments) => KubeflyProcess.Run(["--dir", _state.Path, .. arguments]);
}
