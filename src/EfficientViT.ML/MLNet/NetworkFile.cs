namespace EfficientViT.ML.MLNet;

/// <summary>
/// An exported network written to the system's temp folder for ML.NET's <c>ApplyOnnxModel</c>, which reads its
/// network from a file. The file is deleted when its owner (a fitted featurizer or classifier) is disposed, and
/// otherwise when the process exits.
/// </summary>
/// <remarks>
/// ML.NET's <c>ApplyOnnxModel</c> given a <see cref="Stream"/> copies it to a temp file that nothing ever deletes,
/// not even the transformer's <c>Dispose</c> (ML.NET 5.0.1 opens it as a file it does not own), so every fit
/// would leave a copy of the network behind. Files are named <c>efficientvit-*.onnx</c>, so that one left by a
/// process that was killed can be told apart.
/// </remarks>
internal sealed class NetworkFile : IDisposable
{
    /// <summary>The files of this process not deleted yet; deleted when the process exits.</summary>
    internal static readonly NetworkFileRegistry Undeleted = NetworkFileRegistry.DeletedAtProcessExit();

    private readonly NetworkFileRegistry registry;

    private NetworkFile(string path, NetworkFileRegistry registry)
    {
        Path = path;
        this.registry = registry;
    }

    /// <summary>Where the network is.</summary>
    public string Path { get; }

    /// <summary>Writes <paramref name="graph"/> to a new file in the system's temp folder, kept in <paramref name="registry"/> until deleted.</summary>
    public static NetworkFile Write(byte[] graph, NetworkFileRegistry? registry = null)
    {
        var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"efficientvit-{Guid.NewGuid():N}.onnx");
        var file = new NetworkFile(path, registry ?? Undeleted);
        file.registry.Add(path);
        try
        {
            File.WriteAllBytes(path, graph);
        }
        catch
        {
            file.Dispose();
            throw;
        }
        return file;
    }

    /// <summary>
    /// Deletes the file. Call it after the ML.NET step that reads the file is disposed: on Windows the step keeps
    /// the file open until then, and the file stays in the registry for the process's exit.
    /// </summary>
    public void Dispose() => registry.Delete(Path);
}
