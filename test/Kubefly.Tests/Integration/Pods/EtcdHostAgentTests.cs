using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using Kubefly.Oci;
using Kubefly.Tests.Infrastructure;
using Kubefly.Tests.Infrastructure.Images;

namespace Kubefly.Tests.Integration.Pods;

/// <summary>
/// A real host agent under kubefly: Debian's etcd, packed into an image by the test, runs with its data dir
/// as a host volume; a key written before the pod is killed with SIGKILL is there after a fresh run.
/// </summary>
[Trait("Category", "Integration")]
public sealed class EtcdHostAgentTests : IDisposable
{
    private static readonly System.Text.StringBuilder Output = new();
    private readonly TempDirectory _work = new("kubefly-etcd");

    public void Dispose() => _work.Dispose();

    [Fact]
    public async Task AKeyWrittenBeforeKillNineSurvivesAFreshRun()
    {
        var layout = _work.Combine("layout");
        new OciLayoutBuilder(layout).AddImage([TestImages.BusyboxLayer(), TestImages.EtcdLayer()], LayerCompression.Gzip, Platform.Host, tag: "etcd");
        var state = _work.Combine("state");
        var fetch = KubeflyProcess.Run(["--dir", state, "fetch", "--quiet", $"oci:{layout}:etcd"]);
        Assert.True(fetch.ExitCode == 0, fetch.ToString());
        var data = _work.Combine("data");
        Directory.CreateDirectory(data);
        var client = FreePort();
        var peer = FreePort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{client}"), Timeout = TimeSpan.FromSeconds(5) };

        using (var first = StartEtcd(state, layout, data, client, peer))
        {
            try
            {
                await WaitHealthyAsync(http, first);
                var put = await http.PostAsync("/v3/kv/put", Json(new Dictionary<string, string> { ["key"] = Base64("kubefly"), ["value"] = Base64("survives") }));
                Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
                Assert.Equal("etcd", first.ProcessName);
            }
            finally
            {
                first.Kill();
                await first.WaitForExitAsync();
            }
        }

        using var second = StartEtcd(state, layout, data, client, peer);
        try
        {
            await WaitHealthyAsync(http, second);
            var range = await http.PostAsync("/v3/kv/range", Json(new Dictionary<string, string> { ["key"] = Base64("kubefly") }));
            var body = await range.Content.ReadAsStringAsync();
            Assert.Contains(Base64("survives"), body, StringComparison.Ordinal);
        }
        finally
        {
            second.Kill();
            await second.WaitForExitAsync();
            KubeflyProcess.Run(["--dir", state, "gc", "--grace-period=0s"]);
        }
    }

    private static Process StartEtcd(string state, string layout, string data, int client, int peer)
    {
        var process = KubeflyProcess.Start(
        [
            "--dir", state, "run", "--pull-policy=never",
            "--volume", $"etcd-data,kind=host,source={data}", "--mount", "volume=etcd-data,target=/var/lib/etcd",
            $"oci:{layout}:etcd", "--exec=/usr/bin/etcd", "--",
            "--name=default", "--data-dir=/var/lib/etcd",
            $"--listen-client-urls=http://127.0.0.1:{client}", $"--advertise-client-urls=http://127.0.0.1:{client}",
            $"--listen-peer-urls=http://127.0.0.1:{peer}", $"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
            $"--initial-cluster=default=http://127.0.0.1:{peer}",
        ]);
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, line) =>
        {
            lock (Output)
            {
                Output.AppendLine(line.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static async Task WaitHealthyAsync(HttpClient http, Process etcd)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            if (etcd.HasExited)
            {
                lock (Output)
                {
                    Assert.Fail($"etcd exited with {etcd.ExitCode}:\n{Output}");
                }
            }

            try
            {
                if ((await http.GetStringAsync("/health")).Contains("\"true\"", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            await Task.Delay(100);
        }

        Assert.Fail("etcd did not become healthy");
    }

    private static StringContent Json(Dictionary<string, string> body) =>
        new(JsonSerializer.Serialize(body, EtcdJson.Default.DictionaryStringString), System.Text.Encoding.UTF8, "application/json");

    private static string Base64(string text) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text));

    private static int FreePort()
    {
        using var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class EtcdJson : System.Text.Json.Serialization.JsonSerializerContext
{
}
