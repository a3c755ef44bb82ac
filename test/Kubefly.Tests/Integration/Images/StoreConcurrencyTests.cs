using System.Diagnostics;
using System.Text.Json;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Images;

/// <summary>Concurrent fetches and fetches killed at random points leave a consistent store.</summary>
[Trait("Category", "Integration")]
public sealed class StoreConcurrencyTests : IDisposable
{
    private static readonly Lazy<string> BigLayout = new(BuildBigLayout, LazyThreadSafetyMode.ExecutionAndPublication);
    private readonly TempDirectory _state = new("kubefly-state");

    public void Dispose() => _state.Dispose();

    [Fact]
    public void TwoConcurrentFetchesBothSucceedAndStoreTheImageOnce()
    {
        var reference = $"oci:{BigLayout.Value}:big";
        var first = Start(reference);
        var second = Start(reference);
        first.WaitForExit();
        second.WaitForExit();
        Assert.True(first.ExitCode == 0, first.StandardError.ReadToEnd());
        Assert.True(second.ExitCode == 0, second.StandardError.ReadToEnd());
        Assert.Equal(first.StandardOutput.ReadToEnd(), second.StandardOutput.ReadToEnd());
        Assert.Equal(2, Directory.GetDirectories(Path.Combine(_state.Path, "images", "layers", "sha256")).Length);
        AssertConsistent(expectedImages: 1);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(40)]
    [InlineData(150)]
    [InlineData(400)]
    public void FetchKilledMidwayThenFetchedAgainLeavesAConsistentStore(int killAfterMilliseconds)
    {
        var reference = $"oci:{BigLayout.Value}:big";
        _ = BigLayout.Value;
        using (var victim = Start(reference))
        {
            Thread.Sleep(killAfterMilliseconds);
            try
            {
                victim.Kill();
            }
            catch (InvalidOperationException)
            {
                // It finished first: the store must then simply be complete.
            }

            victim.WaitForExit();
        }

        AssertConsistent(expectedImages: null);
        var again = KubeflyProcess.Run(["--dir", _state.Path, "fetch", "--quiet", reference]);
        Assert.True(again.ExitCode == 0, again.ToString());
        AssertConsistent(expectedImages: 1);
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_state.Path, "images", "tmp")));
    }

    /// <summary>Every listed image has every blob and layer; nothing half-written carries a final name.</summary>
    private void AssertConsistent(int? expectedImages)
    {
        var list = KubeflyProcess.Run(["--dir", _state.Path, "image", "list", "--format=json"]);
        Assert.True(list.ExitCode == 0, list.ToString());
        var images = JsonDocument.Parse(list.StandardOutput).RootElement.EnumerateArray().ToList();
        if (expectedImages is { } count)
        {
            Assert.Equal(count, images.Count);
        }

        var blobs = Path.Combine(_state.Path, "images", "blobs", "sha256");
        if (Directory.Exists(blobs))
        {
            foreach (var blob in Directory.GetFiles(blobs))
            {
                using var stream = File.OpenRead(blob);
                Assert.Equal(Path.GetFileName(blob), Digest.Compute(stream).Hex);
            }
        }

        foreach (var image in images)
        {
            var id = image.GetProperty("id").GetString()!;
            var extract = KubeflyProcess.Run(["--dir", _state.Path, "image", "extract", "--rootfs-only", id, _state.Combine("check-" + Guid.NewGuid().ToString("N"))]);
            Assert.True(extract.ExitCode == 0, extract.ToString());
        }
    }

    private Process Start(string reference) => KubeflyProcess.Start(["--dir", _state.Path, "fetch", "--quiet", reference]);

    /// <summary>A busybox layer plus 48 MiB of incompressible data, so a fetch takes long enough to be killed midway.</summary>
    private static string BuildBigLayout()
    {
        var directory = Path.Combine(Path.GetTempPath(), "kubefly-test-big-" + Environment.ProcessId);
        if (Directory.Exists(directory))
        {
            Directory.Delete(directory, recursive: true);
        }

        var random = new byte[48 << 20];
        new Random(42).NextBytes(random);
        var big = new TarBuilder().Dir("payload/").File("payload/random.bin", random).Build();
        new OciLayoutBuilder(directory).AddImage([TestImages.BusyboxLayer(), big], LayerCompression.Gzip, Platform.Host, tag: "big");
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(directory, recursive: true);
        return directory;
    }
}
