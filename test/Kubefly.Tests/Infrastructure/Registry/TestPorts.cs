using System.Net;
using System.Net.Sockets;

namespace Kubefly.Tests.Infrastructure.Registry;

/// <summary>Loopback ports and scratch directories for test servers.</summary>
public static class TestPorts
{
    /// <summary>A port that was free a moment ago (servers retry on the rare collision).</summary>
    public static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts an HTTP listener on a free 127.0.0.1 port, retrying on the rare collision; returns the port.</summary>
    public static int StartOnFreeLoopbackPort(HttpListener listener)
    {
        for (var attempt = 0; ; attempt++)
        {
            var port = FreeLoopbackPort();
            listener.Prefixes.Clear();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return port;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
            }
        }
    }

    /// <summary>The next request a test server's listener accepts, or null once the listener is closed.</summary>
    public static async Task<HttpListenerContext?> NextRequestAsync(HttpListener listener)
    {
        try
        {
            return listener.IsListening ? await listener.GetContextAsync() : null;
        }
        catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
        {
            return null;
        }
    }

    public static string NewTempDirectory(string purpose)
    {
        var path = Path.Combine(Path.GetTempPath(), $"kubefly-{purpose}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(path);
        return path;
    }

    public static void DeleteDirectory(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
            // A test server's leftovers must not turn a passing test into a failure.
        }
    }
}

/// <summary>Server processes tests started, killed when the test host exits even if a test leaked one.</summary>
internal static class LiveProcesses
{
    private static readonly List<System.Diagnostics.Process> Processes = [];

    static LiveProcesses() => AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

    public static void Track(System.Diagnostics.Process process)
    {
        lock (Processes)
        {
            Processes.RemoveAll(p => HasExited(p));
            Processes.Add(process);
        }
    }

    private static void KillAll()
    {
        lock (Processes)
        {
            foreach (var process in Processes)
            {
                try
                {
                    process.Kill(entireProcessTree: true);
                }
                catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
                {
                }
            }
        }
    }

    private static bool HasExited(System.Diagnostics.Process process)
    {
        try
        {
            return process.HasExited;
        }
        catch (InvalidOperationException)
        {
            return true;
        }
    }
}
