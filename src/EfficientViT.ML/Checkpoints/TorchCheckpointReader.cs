using System.IO.Compression;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// Reads the state dict out of a PyTorch checkpoint written by <c>torch.save</c> (the zip format, PyTorch 1.6 and later)
/// without Python and without executing anything the file contains.
/// </summary>
public static class TorchCheckpointReader
{
    // Where training scripts (the official EfficientViT one included) nest the weights, in order of preference.
    private static readonly string[] NestedStateDictKeys = ["model", "state_dict", "model_ema"];

    // Storages are read in slices of this many bytes so no single span or buffer has to hold a whole large tensor.
    private const int ReadChunkBytes = 1 << 22;

    private const string ResaveAdvice =
        "Only the zip format that torch.save writes since PyTorch 1.6 is supported; the legacy pre-1.6 torch.save format is not. " +
        "Re-save the file with a recent PyTorch: torch.save(torch.load('old.pth', map_location='cpu'), 'new.pth').";

    /// <summary>
    /// Reads the state dict (parameter and buffer name → tensor) from a <c>torch.save</c> zip checkpoint.
    /// </summary>
    /// <remarks>
    /// If the saved object is a dictionary of tensors it is returned; otherwise the first of its entries
    /// <c>model</c>, <c>state_dict</c>, <c>model_ema</c> that is a dictionary of tensors is returned.
    /// Tensors are contiguous CPU tensors in the saved dtype and order, independent of each other and of any
    /// dispose scope: the caller owns them and should dispose them.
    /// Only <c>collections.OrderedDict</c>, tensors and typed storages may appear in the pickle; anything else
    /// (a checkpoint that would run code, for instance) is refused.
    /// </remarks>
    /// <param name="path">The checkpoint file (.pth / .pt).</param>
    /// <returns>The state dict, in the order it was saved.</returns>
    /// <exception cref="CheckpointException">The file is missing, is not a PyTorch zip checkpoint, is truncated or corrupt,
    /// references anything outside the allow-list, or holds no state dict.</exception>
    public static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (Directory.Exists(path))
            throw new CheckpointException($"{path}: is a directory, not a checkpoint file");
        if (!File.Exists(path))
            throw new CheckpointException($"{path}: file not found");

        try
        {
            using FileStream file = File.OpenRead(path);
            CheckZipSignature(file, path);
            using var zip = new ZipArchive(file, ZipArchiveMode.Read);

            string prefix = FindArchivePrefix(zip, path);
            CheckByteOrder(zip, prefix, path);
            byte[] pickle = ReadEntry(zip.GetEntry(prefix + "/data.pkl")!, path);
            object? root = PickleReader.Load(pickle, path);
            PickleDict stateDict = SelectStateDict(root, path);
            return Materialize(stateDict, zip, prefix, path);
        }
        catch (CheckpointException)
        {
            throw;
        }
        catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException)
        {
            throw new CheckpointException($"{path}: the zip file is truncated or corrupt ({ex.Message})", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{path}: could not be read ({ex.Message})", ex);
        }
    }

    private static void CheckZipSignature(FileStream file, string path)
    {
        if (file.Length == 0)
            throw new CheckpointException($"{path}: the file is empty (0 bytes), not a PyTorch zip checkpoint. {ResaveAdvice}");

        Span<byte> head = stackalloc byte[4];
        int read = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        file.Position = 0;
        // A zip starts with a local file header "PK\x03\x04"; a legacy torch.save file is a bare pickle (0x80 = PROTO).
        if (read == 4 && head.SequenceEqual("PK\x03\x04"u8))
            return;
        string hint = read > 0 && head[0] == 0x80
            ? "it looks like a legacy pre-1.6 torch.save file (a bare pickle)"
            : "it does not start with the zip signature 'PK'";
        throw new CheckpointException($"{path}: not a PyTorch zip checkpoint ({hint}). {ResaveAdvice}");
    }

    private static string FindArchivePrefix(ZipArchive zip, string path)
    {
        // torch.save puts every entry under one folder ("archive/" or the file's stem): <prefix>/data.pkl, <prefix>/data/<key>.
        List<string> pickles = zip.Entries
            .Select(e => e.FullName)
            .Where(n => n.EndsWith("/data.pkl", StringComparison.Ordinal) && n.IndexOf('/') == n.Length - "/data.pkl".Length)
            .ToList();
        if (pickles.Count == 1)
        {
            string prefix = pickles[0][..^"/data.pkl".Length];
            // torch.jit.save archives share the layout but pickle a scripted module (plus constants.pkl and code/),
            // which would otherwise only be reported as a refused '__torch__...' global.
            if (zip.GetEntry(prefix + "/constants.pkl") is not null)
            {
                throw new CheckpointException(
                    $"{path}: is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; " +
                    "save the weights with torch.save(model.state_dict(), 'weights.pth') instead");
            }
            return prefix;
        }

        if (pickles.Count == 0)
        {
            string sample = string.Join(", ", zip.Entries.Take(5).Select(e => $"'{e.FullName}'"));
            throw new CheckpointException(
                $"{path}: is a zip file but not a torch.save checkpoint: it has no '<name>/data.pkl' entry " +
                $"({zip.Entries.Count} entries{(sample.Length > 0 ? ", e.g. " + sample : "")})");
        }
        throw new CheckpointException(
            $"{path}: has {pickles.Count} data.pkl entries ({string.Join(", ", pickles.Select(p => $"'{p}'"))}); a torch.save checkpoint has exactly one");
    }

    private static void CheckByteOrder(ZipArchive zip, string prefix, string path)
    {
        // PyTorch 2.1+ records the byte order of the tensor data; older files are always little-endian.
        ZipArchiveEntry? entry = zip.GetEntry(prefix + "/byteorder");
        string order = entry is null ? "little" : Encoding.ASCII.GetString(ReadEntry(entry, path)).Trim();
        if (order != "little")
            throw new CheckpointException($"{path}: tensor data is stored with byte order '{order}'; only little-endian checkpoints are supported");
        if (!BitConverter.IsLittleEndian)
            throw new CheckpointException($"{path}: reading PyTorch checkpoints needs a little-endian machine");
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, string path)
    {
        if (entry.Length > Array.MaxLength)
            throw new CheckpointException($"{path}: zip entry '{entry.FullName}' is {entry.Length} bytes, too large to read into memory");
        var bytes = new byte[entry.Length];
        using Stream stream = entry.Open();
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static PickleDict SelectStateDict(object? root, string path)
    {
        if (IsTensorDict(root))
            return (PickleDict)root!;

        if (root is not PickleDict top)
        {
            throw new CheckpointException(
                $"{path}: no state dict found: the saved object is {DescribeKind(root)}, not a dictionary of tensors");
        }

        foreach (string key in NestedStateDictKeys)
        {
            if (top.Entries.TryGetValue(key, out object? value) && IsTensorDict(value))
                return (PickleDict)value!;
        }

        string keys = string.Join(", ", top.Entries.Keys.Select(k => $"'{k}'"));
        throw new CheckpointException(
            $"{path}: no state dict found: the top-level dictionary has keys {keys}; expected it to map names to tensors, " +
            $"or to hold such a dictionary under {string.Join(", ", NestedStateDictKeys.Select(k => $"'{k}'"))}");
    }

    private static bool IsTensorDict(object? value) =>
        value is PickleDict dict && dict.Entries.All(e => e.Key is string && e.Value is PickledTensor);

    private static string DescribeKind(object? value) => value switch
    {
        null => "None",
        PickledTensor => "a single tensor",
        PickleDict => "a dictionary",
        PickleTuple => "a tuple",
        List<object?> => "a list",
        _ => $"a {value.GetType().Name}",
    };

    private static Dictionary<string, Tensor> Materialize(PickleDict stateDict, ZipArchive zip, string prefix, string path)
    {
        var result = new Dictionary<string, Tensor>(stateDict.Entries.Count);
        // The scope frees the storages and intermediate views, and on failure any tensors already made;
        // the returned tensors are detached from it (and from any caller scope) just before returning.
        using DisposeScope scope = torch.NewDisposeScope();
        var storages = new Dictionary<(string Key, ScalarType DType), Tensor>();

        foreach ((object key, object? value) in stateDict.Entries)
        {
            string name = (string)key;
            var pickled = (PickledTensor)value!;
            PickleStorage storage = pickled.Storage;
            if (!storages.TryGetValue((storage.Key, storage.DType), out Tensor? storageTensor))
            {
                storageTensor = LoadStorage(zip, prefix, storage, name, path);
                storages.Add((storage.Key, storage.DType), storageTensor);
            }
            result.Add(name, Rebuild(pickled, storageTensor, name, path));
        }

        foreach (Tensor tensor in result.Values)
            tensor.DetachFromDisposeScope();
        return result;
    }

    private static Tensor LoadStorage(ZipArchive zip, string prefix, PickleStorage storage, string tensorName, string path)
    {
        string entryName = $"{prefix}/data/{storage.Key}";
        ZipArchiveEntry entry = zip.GetEntry(entryName)
            ?? throw new CheckpointException(
                $"{path}: tensor '{tensorName}' needs storage entry '{entryName}', which is missing from the zip (the checkpoint is incomplete or corrupt)");

        int elementSize = storage.DType.ElementSize();
        // Compared by division so a hostile element count cannot overflow the byte count into a small number.
        if (storage.NumElements > entry.Length / elementSize)
        {
            string needed = storage.NumElements <= long.MaxValue / elementSize ? $"{storage.NumElements * elementSize}" : "more";
            throw new CheckpointException(
                $"{path}: storage entry '{entryName}' (used by '{tensorName}') has {entry.Length} bytes, but {storage.NumElements} " +
                $"{DTypeName(storage.DType)} elements need {needed}");
        }

        Tensor tensor = torch.empty([storage.NumElements], storage.DType);
        using Stream stream = entry.Open();
        long chunkElements = Math.Max(1, ReadChunkBytes / elementSize);
        for (long start = 0; start < storage.NumElements; start += chunkElements)
        {
            long count = Math.Min(chunkElements, storage.NumElements - start);
            using Tensor slice = tensor.narrow(0, start, count);
            // The checkpoint stores little-endian bytes, the machine's own order (checked earlier), so they copy as is.
            stream.ReadExactly(slice.bytes);
        }
        return tensor;
    }

    private static Tensor Rebuild(PickledTensor pickled, Tensor storageTensor, string name, string path)
    {
        long[] size = pickled.Size;
        long[] stride = pickled.Stride;
        long available = pickled.Storage.NumElements;

        // The highest element the view touches is offset + sum((size_i - 1) * stride_i); an empty tensor touches none.
        long needed;
        try
        {
            needed = size.Any(s => s == 0) ? 0 : checked(pickled.StorageOffset + size.Zip(stride, (s, st) => (s - 1) * st).Sum() + 1);
        }
        catch (OverflowException)
        {
            needed = long.MaxValue;
        }
        if (needed > available)
        {
            throw new CheckpointException(
                $"{path}: tensor '{name}' ({DTypeName(pickled.Storage.DType)}, size ({string.Join(", ", size)}), " +
                $"stride ({string.Join(", ", stride)}), offset {pickled.StorageOffset}) needs {needed} elements, " +
                $"but its storage '{pickled.Storage.Key}' holds only {available}");
        }

        // Copy out of the (possibly shared, possibly larger) storage so every tensor is contiguous and owns its memory.
        Tensor result = torch.empty(size, pickled.Storage.DType);
        if (needed > 0)
        {
            using Tensor view = storageTensor.as_strided(size, stride, pickled.StorageOffset);
            result.copy_(view);
        }
        if (pickled.RequiresGrad && result.is_floating_point())
            result.requires_grad_(true);
        return result;
    }

    private static string DTypeName(ScalarType dtype) => dtype.ToString().ToLowerInvariant();
}
