using System.Net;
using Kubefly.Tests.Infrastructure.Registry;

namespace Kubefly.Tests.Infrastructure.Trust;

/// <summary>Serves one directory over plain HTTP on 127.0.0.1 (a lookaside signature store as a web server would); 404 for anything missing.</summary>
public sealed class StaticFileServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _root;
    private readonly Task _loop;

    public StaticFileServer(string root)
    {
        _root = Path.GetFullPath(root);
        Port = TestPorts.StartOnFreeLoopbackPort(_listener);
        _loop = Task.Run(ServeAsync);
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public int Requests { get; private set; }

    public void Dispose()
    {
        _listener.Close();
        try
        {
            _loop.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
    }

    private async Task ServeAsync()
    {
        while (await TestPorts.NextRequestAsync(_listener) is { } context)
        {

            Requests++;
            using var response = context.Response;
            var relative = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath).TrimStart('/');
            var path = Path.GetFullPath(Path.Combine(_root, relative));
            if (!path.StartsWith(_root + "/", StringComparison.Ordinal) || !File.Exists(path))
            {
                response.StatusCode = 404;
                continue;
            }

            var bytes = await File.ReadAllBytesAsync(path);
            response.StatusCode = 200;
            response.ContentLength64 = bytes.Length;
            await response.OutputStream.WriteAsync(bytes);
        }
    }
}
