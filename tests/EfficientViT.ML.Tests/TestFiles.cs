using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests;

/// <summary>Paths of the committed fixtures and helpers to read them.</summary>
internal static class TestFiles
{
    /// <summary>
    /// The folder of the tests' own assembly, where the build puts the fixtures. Not AppContext.BaseDirectory: that
    /// is the host's folder, which an in-process runner (xunit's console runner, scripts/int8-without-vnni.sh) has
    /// elsewhere.
    /// </summary>
    public static string OutputFolder { get; } = Path.GetDirectoryName(typeof(TestFiles).Assembly.Location)!;

    public static string Fixture(params string[] parts) =>
        Path.Combine(new[] { OutputFolder, "Fixtures" }.Concat(parts).ToArray());

    public static string OfficialM0(string file) => Fixture("official-m0", file);

    /// <summary>Reads a raw little-endian float32 file into a tensor of the given shape.</summary>
    public static Tensor ReadFloat32(string path, params long[] shape)
    {
        var bytes = File.ReadAllBytes(path);
        var values = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
        Assert.Equal(shape.Aggregate(1L, (a, b) => a * b), values.LongLength);
        return tensor(values, shape);
    }

    /// <summary>Parses a key list of lines like <c>('head.l.weight', (1000, 192))</c>.</summary>
    public static List<(string Key, long[] Shape)> ReadKeyList(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(line =>
        {
            var key = line.Split('\'')[1];
            var shapeText = line[(line.IndexOf(", (", StringComparison.Ordinal) + 3)..line.LastIndexOf(')')].TrimEnd(')');
            var shape = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(long.Parse).ToArray();
            return (key, shape);
        }).ToList();

    /// <summary>The messages of an exception and its inner exceptions (ML.NET wraps errors raised on its worker threads).</summary>
    public static List<string> Messages(Exception error)
    {
        var messages = new List<string>();
        for (Exception? e = error; e is not null; e = e.InnerException)
            messages.Add(e.Message);
        return messages;
    }

    public static float MaxAbsDiff(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        Assert.Equal(a.shape, b.shape);
        return (a - b).abs().max().item<float>();
    }
}

/// <summary>A directory under the system temp folder, deleted at dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "evit-tests-" + Guid.NewGuid().ToString("N"));

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
