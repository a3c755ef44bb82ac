using System.Collections.Concurrent;
using System.Net;

namespace Kubefly.Tests.Infrastructure.Registry;

/// <summary>A request that passed through a <see cref="FaultProxy"/>, and what it was answered.</summary>
public sealed record ProxiedRequest(string Method, string PathAndQuery, string? Authorization, string? Range, int Status, string? Fault);

public enum FaultKind
{
    /// <summary>Send the first <see cref="ProxyFault.Bytes"/> bytes of the body, then cut the connection.</summary>
    DropAfterBytes,

    /// <summary>Answer <see cref="ProxyFault.Status"/> (with Retry-After when given) without asking upstream.</summary>
    Status,

    /// <summary>Pass the body on with one byte flipped in its middle.</summary>
    CorruptBody,

    /// <summary>Answer 307 to the same path on <see cref="ProxyFault.RedirectHost"/>.</summary>
    Redirect,

    /// <summary>Answer 200 with <see cref="ProxyFault.ContentType"/> and <see cref="ProxyFault.Body"/>.</summary>
    ReplaceResponse,

    /// <summary>Forward without the Range header, as a server that ignores ranges would (200 with the whole body).</summary>
    IgnoreRange,
}

/// <summary>
/// One fault for requests whose method is GET or HEAD and whose path contains <see cref="PathContains"/>,
/// applied to the next so many of them (<see cref="Remaining"/>).
/// </summary>
public sealed record ProxyFault
{
    private int _remaining;

    private ProxyFault(FaultKind kind, string pathContains, int times)
    {
        Kind = kind;
        PathContains = pathContains;
        _remaining = times;
    }

    public FaultKind Kind { get; }

    public string PathContains { get; }

    public long Bytes { get; private init; }

    public int Status { get; private init; }

    public string? RetryAfter { get; private init; }

    public string? RedirectHost { get; private init; }

    public string? ContentType { get; private init; }

    public byte[]? Body { get; private init; }

    public int Remaining => Volatile.Read(ref _remaining);

    public static ProxyFault DropAfter(long bytes, int times = 1, string pathContains = "/blobs/") => new(FaultKind.DropAfterBytes, pathContains, times) { Bytes = bytes };

    public static ProxyFault Answer(int status, int times = 1, string pathContains = "/blobs/", string? retryAfter = null) =>
        new(FaultKind.Status, pathContains, times) { Status = status, RetryAfter = retryAfter };

    public static ProxyFault Corrupt(int times = 1, string pathContains = "/blobs/") => new(FaultKind.CorruptBody, pathContains, times);

    public static ProxyFault RedirectTo(string host, int times = int.MaxValue, string pathContains = "/blobs/") => new(FaultKind.Redirect, pathContains, times) { RedirectHost = host };

    public static ProxyFault IgnoreRange(int times = 1, string pathContains = "/blobs/") => new(FaultKind.IgnoreRange, pathContains, times);

    public static ProxyFault Replace(string contentType, byte[] body, int times = int.MaxValue, string pathContains = "/manifests/") =>
        new(FaultKind.ReplaceResponse, pathContains, times) { ContentType = contentType, Body = body };

    internal bool TryTake(string method, string path)
    {
        if (method is not ("GET" or "HEAD") || !path.Contains(PathContains, StringComparison.Ordinal))
        {
            return false;
        }

        while (true)
        {
            var remaining = Volatile.Read(ref _remaining);
            if (remaining <= 0)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _remaining, remaining - 1, remaining) == remaining)
            {
                return true;
            }
        }
    }
}

/// <summary>
/// An HTTP reverse proxy on 127.0.0.1 in front of a registry that injects faults per request (cut
/// connections, 500/429 answers, corrupted bytes, redirects elsewhere) and records every request,
/// including its Authorization header. A proxy built without upstream answers 503 for everything not faulted.
/// </summary>
public sealed class FaultProxy : IDisposable
{
    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Host", "Proxy-Connection", "Upgrade", "TE", "Trailer",
    };

    private readonly HttpListener _listener = new();
    private readonly HttpClient _upstream = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseProxy = false, AutomaticDecompression = DecompressionMethods.None });
    private readonly ConcurrentQueue<ProxiedRequest> _requests = new();
    private readonly ConcurrentQueue<ProxyFault> _faults = new();
    private readonly Task _loop;
    private int _inFlight;

    public FaultProxy(string upstreamHost)
    {
        UpstreamHost = upstreamHost;
        Port = TestPorts.StartOnFreeLoopbackPort(_listener);

        _loop = Task.Run(ServeAsync);
    }

    public string UpstreamHost { get; }

    public int Port { get; }

    public string Host => $"127.0.0.1:{Port}";

    /// <summary>
    /// Every request answered so far. Waits (briefly) for requests still being answered: a client may see
    /// a cut connection before the proxy has finished recording it.
    /// </summary>
    public IReadOnlyList<ProxiedRequest> Requests
    {
        get
        {
            SpinWait.SpinUntil(() => Volatile.Read(ref _inFlight) == 0, TimeSpan.FromSeconds(10));
            return _requests.ToArray();
        }
    }

    public ProxyFault Add(ProxyFault fault)
    {
        _faults.Enqueue(fault);
        return fault;
    }

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

        _upstream.Dispose();
    }

    private async Task ServeAsync()
    {
        while (await TestPorts.NextRequestAsync(_listener) is { } context)
        {

            Interlocked.Increment(ref _inFlight);
            _ = Task.Run(() => HandleAsync(context));
        }
    }

    private async Task HandleAsync(HttpListenerContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var path = request.Url!.PathAndQuery;
        var fault = _faults.FirstOrDefault(f => f.TryTake(request.HttpMethod, path));
        var status = 0;
        try
        {
            switch (fault?.Kind)
            {
                case FaultKind.Status:
                    status = fault.Status;
                    response.StatusCode = status;
                    if (fault.RetryAfter is { } retryAfter)
                    {
                        response.AddHeader("Retry-After", retryAfter);
                    }

                    response.ContentLength64 = 0;
                    response.Close();
                    return;
                case FaultKind.Redirect:
                    status = 307;
                    response.StatusCode = status;
                    response.RedirectLocation = $"http://{fault.RedirectHost}{path}";
                    response.ContentLength64 = 0;
                    response.Close();
                    return;
                case FaultKind.ReplaceResponse:
                    status = 200;
                    response.StatusCode = status;
                    response.ContentType = fault.ContentType;
                    response.ContentLength64 = fault.Body!.Length;
                    await response.OutputStream.WriteAsync(fault.Body);
                    response.Close();
                    return;
            }

            status = await ForwardAsync(context, fault);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or HttpRequestException or ObjectDisposedException or InvalidOperationException)
        {
            status = status == 0 ? -1 : status;
            try
            {
                response.Abort();
            }
            catch (ObjectDisposedException)
            {
            }
        }
        finally
        {
            _requests.Enqueue(new ProxiedRequest(request.HttpMethod, path, request.Headers["Authorization"], request.Headers["Range"], status, fault?.Kind.ToString()));
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task<int> ForwardAsync(HttpListenerContext context, ProxyFault? fault)
    {
        var request = context.Request;
        var response = context.Response;
        using var upstreamRequest = new HttpRequestMessage(new HttpMethod(request.HttpMethod), $"http://{UpstreamHost}{request.Url!.PathAndQuery}");
        if (request.HasEntityBody)
        {
            var body = new MemoryStream();
            await request.InputStream.CopyToAsync(body);
            body.Position = 0;
            upstreamRequest.Content = new StreamContent(body);
        }

        foreach (var name in request.Headers.AllKeys)
        {
            if (name is null || HopByHop.Contains(name) || (fault?.Kind == FaultKind.IgnoreRange && name.Equals("Range", StringComparison.OrdinalIgnoreCase)))
            {
                continue;
            }

            var values = request.Headers.GetValues(name) ?? [];
            if (!upstreamRequest.Headers.TryAddWithoutValidation(name, values))
            {
                upstreamRequest.Content?.Headers.TryAddWithoutValidation(name, values);
            }
        }

        using var upstream = await _upstream.SendAsync(upstreamRequest, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode = (int)upstream.StatusCode;
        foreach (var (name, values) in upstream.Headers.Concat(upstream.Content.Headers))
        {
            if (HopByHop.Contains(name))
            {
                continue;
            }

            if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
            {
                response.ContentType = string.Join(", ", values);
            }
            else
            {
                foreach (var value in values)
                {
                    response.AddHeader(name, value);
                }
            }
        }

        var length = upstream.Content.Headers.ContentLength;
        if (length is { } known)
        {
            response.ContentLength64 = known;
        }

        await using var source = await upstream.Content.ReadAsStreamAsync();
        var buffer = new byte[16 * 1024];
        long sent = 0;
        var flipAt = fault?.Kind == FaultKind.CorruptBody ? (length ?? 2) / 2 : -1;
        while (true)
        {
            var n = await source.ReadAsync(buffer);
            if (n == 0)
            {
                break;
            }

            if (fault?.Kind == FaultKind.DropAfterBytes && sent + n >= fault.Bytes)
            {
                var allowed = (int)(fault.Bytes - sent);
                await response.OutputStream.WriteAsync(buffer.AsMemory(0, allowed));
                await response.OutputStream.FlushAsync();
                response.Abort();
                return response.StatusCode;
            }

            if (flipAt >= sent && flipAt < sent + n)
            {
                buffer[flipAt - sent] ^= 0xFF;
            }

            await response.OutputStream.WriteAsync(buffer.AsMemory(0, n));
            sent += n;
        }

        response.Close();
        return response.StatusCode;
    }
}
