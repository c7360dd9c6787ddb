namespace EfficientViT.ML.MLNet;

/// <summary>
/// Deletes the copies of a zip's networks that ML.NET left in its temp folder when loading the zip failed.
/// </summary>
/// <remarks>
/// Loaded from a zip, an <c>ApplyOnnxModel</c> step writes its network to a file named by <c>Path.GetRandomFileName</c>
/// in <c>MLContext.TempFilePath</c>, which the step deletes when it is disposed. When ONNX Runtime refuses the network,
/// or a later step of the chain fails to load, no step is returned to dispose and the file stays (ML.NET 6.0.0). The
/// copies are told by their content: files of such a name, written since the load began, whose bytes are one of the
/// zip's networks.
/// </remarks>
internal static class LeftNetworkCopies
{
    // File times may be coarser than the clock (a second or two on some file systems).
    private static readonly TimeSpan ClockSlack = TimeSpan.FromSeconds(2);

    /// <summary>Deletes the copies of <paramref name="networks"/> in <paramref name="folder"/> written since <paramref name="loadStartedUtc"/>; returns how many.</summary>
    public static int Delete(string folder, IReadOnlyCollection<byte[]> networks, DateTime loadStartedUtc)
    {
        if (networks.Count == 0 || !Directory.Exists(folder))
            return 0;
        var sizes = networks.Select(n => (long)n.Length).ToHashSet();
        var deleted = 0;
        foreach (var file in new DirectoryInfo(folder).EnumerateFiles())
        {
            try
            {
                if (!IsRandomFileName(file.Name) || !sizes.Contains(file.Length) || file.LastWriteTimeUtc < loadStartedUtc - ClockSlack)
                    continue;
                var bytes = File.ReadAllBytes(file.FullName);
                if (!networks.Any(network => network.AsSpan().SequenceEqual(bytes)))
                    continue;
                file.Delete();
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Best effort: the load's own error is the one worth reporting.
            }
        }
        return deleted;
    }

    // What Path.GetRandomFileName gives: eight characters, a dot, three characters.
    private static bool IsRandomFileName(string name) => name.Length == 12 && name[8] == '.';
}
