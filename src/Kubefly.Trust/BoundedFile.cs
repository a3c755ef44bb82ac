using Kubefly.Oci;

namespace Kubefly.Trust;

/// <summary>Reads a whole configuration or key file, refusing one larger than a limit (a FIFO or a huge file is not a key).</summary>
internal static class BoundedFile
{
    public static byte[] Read(string path, long maxBytes, string what)
    {
        try
        {
            if (Directory.Exists(path))
            {
                throw new TrustException($"{what} {path}: is a directory, not a file");
            }

            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.None);

            var buffer = new MemoryStream();
            var chunk = new byte[16384];
            int read;
            while ((read = file.Read(chunk)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw new TrustException($"{what} {path}: larger than the limit of {maxBytes} bytes");
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TrustException($"cannot read {what} {path}: {RuntimeText.Describe(e)}");
        }
    }
}
