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
