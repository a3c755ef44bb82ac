using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;

namespace Kubefly.Tests.Infrastructure.Registry;

public enum RegistryAuthMode
{
    None,
    Basic,
    Token,
}

/// <summary>
/// The real Debian <c>docker-registry</c> (Distribution 2.8) on 127.0.0.1 with a free port and a private
/// storage root: without auth, with htpasswd Basic auth, or with token auth against a <see cref="TokenServer"/>.
/// Started ready (<c>/v2/</c> answers); Dispose kills it and deletes its directories.
/// </summary>
public sealed class DockerRegistryServer : IDisposable
{
    private readonly string _directory;
    private readonly StringBuilder _output = new();
    private Process? _process;

    private DockerRegistryServer(RegistryAuthMode mode, TokenServer? tokens, (string User, string Password)? basic)
    {
        Mode = mode;
        TokenServer = tokens;
        BasicCredentials = basic;
        _directory = TestPorts.NewTempDirectory("registry");
        try
        {
            Start();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public RegistryAuthMode Mode { get; }

    public TokenServer? TokenServer { get; }

    public (string User, string Password)? BasicCredentials { get; }

    public int Port { get; private set; }

    /// <summary>"127.0.0.1:PORT": the registry part of image references.</summary>
    public string Host => $"127.0.0.1:{Port}";

    public string StorageRoot => Path.Combine(_directory, "storage");

    public bool IsRunning => _process is { HasExited: false };

    public static DockerRegistryServer StartPlain() => new(RegistryAuthMode.None, null, null);

    /// <summary>htpasswd Basic auth (bcrypt, made with <c>htpasswd -Bbn</c>).</summary>
    public static DockerRegistryServer StartWithBasicAuth(string user, string password) => new(RegistryAuthMode.Basic, null, (user, password));

    /// <summary>Bearer token auth trusting <paramref name="tokens"/> (which the caller owns and disposes).</summary>
    public static DockerRegistryServer StartWithTokenAuth(TokenServer tokens) => new(RegistryAuthMode.Token, tokens, null);

    /// <summary>A pusher with full access whatever the auth mode (tokens are issued directly, unrecorded).</summary>
    public RegistryPusher CreatePusher() => new(Host, Mode switch
    {
        RegistryAuthMode.Basic => _ => new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{BasicCredentials!.Value.User}:{BasicCredentials.Value.Password}"))),
        RegistryAuthMode.Token => repository => new AuthenticationHeaderValue("Bearer", TokenServer!.IssueToken("pusher", [$"repository:{repository}:pull,push"])),
        _ => null,
    });

    /// <summary>Kills the registry but keeps its storage (to prove a stopped origin is never needed).</summary>
    public void Stop()
    {
        if (_process is { } process)
        {
            try
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
            }

            process.Dispose();
            _process = null;
        }
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public void Dispose()
    {
        Stop();
        TestPorts.DeleteDirectory(_directory);
    }

    private void Start()
    {
        Directory.CreateDirectory(StorageRoot);
        var auth = Mode switch
        {
            RegistryAuthMode.Basic => $"""
                auth:
                  htpasswd:
                    realm: kubefly-test-registry
                    path: {WriteHtpasswd()}
                """,
            RegistryAuthMode.Token => $"""
                auth:
                  token:
                    realm: {TokenServer!.Realm}
                    service: {TokenServer.Service}
                    issuer: {TokenServer.Issuer}
                    rootcertbundle: {TokenServer.CertificateBundlePath}
                """,
            _ => string.Empty,
        };

        Exception? last = null;
        for (var attempt = 0; attempt < 5; attempt++)
        {
            Port = TestPorts.FreeLoopbackPort();
            var config = Path.Combine(_directory, "config.yml");
            File.WriteAllText(config, $"""
                version: 0.1
                log:
                  level: warn
                  accesslog:
                    disabled: true
                storage:
                  filesystem:
                    rootdirectory: {StorageRoot}
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:{Port}
                  secret: {Guid.NewGuid():N}
                {auth}
                """);
            var info = new ProcessStartInfo("docker-registry")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            info.ArgumentList.Add("serve");
            info.ArgumentList.Add(config);
            var process = Process.Start(info) ?? throw new InvalidOperationException("could not start docker-registry");
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            _process = process;
            try
            {
                WaitUntilAnswering();
                return;
            }
            catch (InvalidOperationException e)
            {
                last = e;
                Stop();
            }
        }

        throw new InvalidOperationException("docker-registry did not start", last);
    }

    private void WaitUntilAnswering()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"docker-registry exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var response = http.GetAsync($"http://{Host}/v2/").GetAwaiter().GetResult();
                if (response.StatusCode is HttpStatusCode.OK or HttpStatusCode.Unauthorized)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            Thread.Sleep(50);
        }

        throw new InvalidOperationException($"docker-registry on {Host} did not answer /v2/ within 30s:\n{Output}");
    }

    private string WriteHtpasswd()
    {
        var (user, password) = BasicCredentials!.Value;
        var line = ProgramRunner.Run("htpasswd", ["-Bbn", user, password]);
        if (line.ExitCode != 0)
        {
            throw new InvalidOperationException($"htpasswd failed: {line}");
        }

        var path = Path.Combine(_directory, "htpasswd");
        File.WriteAllText(path, line.StandardOutput.Trim() + "\n");
        return path;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }
}
