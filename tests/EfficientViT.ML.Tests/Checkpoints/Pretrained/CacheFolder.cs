using System.Security.Cryptography;
using EfficientViT.ML.Checkpoints.Pretrained;

namespace EfficientViT.ML.Tests.Checkpoints.Pretrained;

/// <summary>A fresh cache folder for one test, and what it holds.</summary>
internal sealed class CacheFolder : IDisposable
{
    private readonly TempDirectory root = new();

    public CacheFolder() => Path = System.IO.Path.Combine(root.Path, "cache");

    /// <summary>The cache folder (not created until something is written).</summary>
    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    /// <summary>Every file in the folder with its SHA-256; null when the folder does not exist.</summary>
    public SortedDictionary<string, string>? Snapshot()
    {
        if (!Directory.Exists(Path))
            return null;
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(Path, "*", SearchOption.AllDirectories))
            files[System.IO.Path.GetRelativePath(Path, file)] = Convert.ToHexStringLower(SHA256.HashData(System.IO.File.ReadAllBytes(file)));
        return files;
    }

    /// <summary>Options for this cache and a mirror at <paramref name="server"/>; no packaged weights, no progress output.</summary>
    public PretrainedWeightsOptions Options(LoopbackServer? server = null, IProgress<DownloadProgress>? progress = null) => new()
    {
        CacheFolder = Path,
        MirrorUrl = server?.BaseUrl,
        ApplicationFolder = null,
        Timeout = TimeSpan.FromSeconds(10),
        Progress = progress,
    };

    public void Dispose() => root.Dispose();
}

/// <summary>Collects progress reports on the reporting thread (<see cref="Progress{T}"/> would post them later).</summary>
internal sealed class RecordingProgress : IProgress<DownloadProgress>
{
    public List<DownloadProgress> Reports { get; } = [];

    public void Report(DownloadProgress value)
    {
        lock (Reports)
            Reports.Add(value);
    }
}
