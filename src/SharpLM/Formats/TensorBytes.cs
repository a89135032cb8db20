using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace SharpLM.Formats;

/// <summary>Copies a tensor's raw bytes to and from files in bounded chunks, so saving or loading one
/// tensor needs at most one chunk of extra memory (and Span's 2 GB limit never applies).</summary>
internal static class TensorBytes
{
    public const long DefaultChunkBytes = 64L << 20;

    /// <summary>Writes <paramref name="tensor"/> converted to <paramref name="type"/>, in row-major order.</summary>
    public static void Write(Stream stream, Tensor tensor, ScalarType type, long chunkBytes = DefaultChunkBytes)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var flat = tensor.detach().reshape(-1);
        long chunk = ChunkElements(type, chunkBytes);
        for (long start = 0; start < flat.numel(); start += chunk)
        {
            // Its own scope, so each converted chunk is freed before the next one is made.
            using var chunkScope = torch.NewDisposeScope();
            var part = flat.narrow(0, start, Math.Min(chunk, flat.numel() - start)).to(type, torch.CPU).contiguous();
            stream.Write(part.bytes);
        }
    }

    /// <summary>Fills the contiguous CPU tensor <paramref name="tensor"/> from the file at <paramref name="offset"/>.</summary>
    public static void Read(SafeFileHandle file, long offset, Tensor tensor, string path, string name, long chunkBytes = DefaultChunkBytes)
    {
        using var flat = tensor.view(-1);
        long chunk = ChunkElements(tensor.dtype, chunkBytes);
        for (long start = 0; start < flat.numel(); start += chunk)
        {
            using var part = flat.narrow(0, start, Math.Min(chunk, flat.numel() - start));
            var span = part.bytes;
            while (!span.IsEmpty)
            {
                int read = RandomAccess.Read(file, span, offset);
                if (read == 0)
                    throw new SharpLMException($"{path}: the file ended while reading tensor \"{name}\" (was it changed after opening?)");
                span = span[read..];
                offset += read;
            }
        }
    }

    static long ChunkElements(ScalarType type, long chunkBytes)
    {
        using var probe = torch.empty(0, type);
        return Math.Max(1, Math.Min(chunkBytes, int.MaxValue) / probe.element_size());
    }
}
