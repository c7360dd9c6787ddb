using System.IO.Compression;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// Reads the state dict out of a PyTorch checkpoint written by <c>torch.save</c> (the zip format, PyTorch 1.6 and later)
/// without Python and without executing anything the file contains.
/// </summary>
internal static class TorchCheckpointReader
{
    // Where training scripts (the official EfficientViT one included) nest the weights, in order of preference.
    private static readonly string[] NestedStateDictKeys = ["model", "state_dict", "model_ema"];

    // Storages are read in slices of this many bytes so no single span or buffer has to hold a whole large tensor.
    private const int ReadChunkBytes = 1 << 22;

    private const string ResaveAdvice = CheckpointFileSignature.ResaveAdvice;

    /// <summary>The most a compressed zip entry may expand: torch.save stores entries uncompressed, and a
    /// re-zipped checkpoint compresses far less than this, while a zip bomb expands a thousandfold.</summary>
    public const int MaxInflation = 16;

    /// <summary>What any compressed entry may expand to regardless of <see cref="MaxInflation"/>.</summary>
    public const long InflationAllowanceBytes = 1L << 20;

    /// <summary>Views may share storage (tied weights), so the tensors returned may take up to this many times the
    /// bytes of the storages they view, plus <see cref="ViewAllowanceBytes"/>; a stride-0 view cannot blow up further.</summary>
    public const int MaxViewExpansion = 2;

    /// <summary>What views may take beyond <see cref="MaxViewExpansion"/> times their storage bytes.</summary>
    public const long ViewAllowanceBytes = 16L << 20;

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
            long fileLength = file.Length;
            using var zip = new ZipArchive(file, ZipArchiveMode.Read);

            string prefix = FindArchivePrefix(zip, path);
            CheckByteOrder(zip, prefix, path, fileLength);
            ZipArchiveEntry pickleEntry = zip.GetEntry(prefix + "/data.pkl")!;
            CheckEntrySize(pickleEntry, fileLength, path);
            // The pickle's own bytes count against its budget too, before they are read.
            if (pickleEntry.Length > PickleReader.BudgetFor(0))
            {
                throw new CheckpointException(
                    $"{path}: refusing to load: data.pkl is {pickleEntry.Length} bytes, more than the {PickleReader.BudgetFor(0) >> 20} MiB a state dict's pickle needs");
            }
            byte[] pickle = ReadEntry(pickleEntry, path);
            object? root = PickleReader.Load(pickle, path);
            PickleDict stateDict = SelectStateDict(root, path);
            List<TensorPlan> plans = Plan(stateDict, zip, prefix, path, fileLength);
            return Materialize(plans, zip, prefix, path);
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
        CheckpointFileKind kind = CheckpointFileSignature.Detect(head[..read]);
        if (kind == CheckpointFileKind.TorchZip)
            return;
        string hint = kind == CheckpointFileKind.LegacyTorchPickle
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

    private static void CheckByteOrder(ZipArchive zip, string prefix, string path, long fileLength)
    {
        // PyTorch 2.1+ records the byte order of the tensor data; older files are always little-endian.
        ZipArchiveEntry? entry = zip.GetEntry(prefix + "/byteorder");
        if (entry is not null && entry.Length > 16)
            throw new CheckpointException($"{path}: the byteorder entry is {entry.Length} bytes; it holds only 'little' or 'big'");
        if (entry is not null)
            CheckEntrySize(entry, fileLength, path);
        string order = entry is null ? "little" : Encoding.ASCII.GetString(ReadEntry(entry, path)).Trim();
        if (order != "little")
            throw new CheckpointException($"{path}: tensor data is stored with byte order '{order}'; only little-endian checkpoints are supported");
        if (!BitConverter.IsLittleEndian)
            throw new CheckpointException($"{path}: reading PyTorch checkpoints needs a little-endian machine");
    }

    /// <summary>Refuses an entry whose declared sizes the file cannot back, before anything is allocated for it.</summary>
    private static void CheckEntrySize(ZipArchiveEntry entry, long fileLength, string path)
    {
        if (entry.CompressedLength > fileLength)
        {
            throw new CheckpointException(
                $"{path}: zip entry '{entry.FullName}' claims {entry.CompressedLength} stored bytes, but the file has only {fileLength} (truncated or corrupt)");
        }
        if (entry.Length > entry.CompressedLength && entry.Length - InflationAllowanceBytes > MaxInflation * entry.CompressedLength)
        {
            throw new CheckpointException(
                $"{path}: refusing to load: zip entry '{entry.FullName}' would expand from {entry.CompressedLength} to {entry.Length} bytes, " +
                $"more than {MaxInflation}-fold (torch.save stores entries uncompressed; the file is corrupt or a zip bomb)");
        }
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

        string keys = string.Join(", ", top.Entries.Keys.Take(20).Select(k => $"'{k}'")) + (top.Entries.Count > 20 ? ", ..." : "");
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

    /// <summary>A state-dict tensor, checked against its storage entry and ready to be built.</summary>
    private sealed record TensorPlan(string Name, PickledTensor Pickled, long Elements);

    /// <summary>
    /// Checks every tensor against the bytes the file really holds, before anything is allocated: the storage entry
    /// exists and holds the declared elements, the view stays inside its storage, and the tensors together do not
    /// expand their storages beyond <see cref="MaxViewExpansion"/> (a stride-0 view of one element, say).
    /// </summary>
    private static List<TensorPlan> Plan(PickleDict stateDict, ZipArchive zip, string prefix, string path, long fileLength)
    {
        if (stateDict.Entries.Count > CheckpointLimits.MaxTensors)
            throw new CheckpointException($"{path}: refusing to load: the state dict has {stateDict.Entries.Count} tensors, more than the {CheckpointLimits.MaxTensors} accepted");

        var plans = new List<TensorPlan>(stateDict.Entries.Count);
        var storageBytes = new Dictionary<(string Key, ScalarType DType), long>();
        long storedBytes = 0;
        long tensorBytes = 0;
        foreach ((object key, object? value) in stateDict.Entries)
        {
            string name = (string)key;
            var pickled = (PickledTensor)value!;
            PickleStorage storage = pickled.Storage;
            if (!storageBytes.ContainsKey((storage.Key, storage.DType)))
            {
                long bytes = CheckStorage(zip, prefix, storage, name, path, fileLength);
                storageBytes.Add((storage.Key, storage.DType), bytes);
                storedBytes += bytes;
            }

            long elements = CheckView(pickled, name, path);
            // Below long.MaxValue / 8 by CheckView, so neither product nor sum overflows.
            tensorBytes += elements * storage.DType.ElementSize();
            if (tensorBytes - ViewAllowanceBytes > MaxViewExpansion * storedBytes)
            {
                throw new CheckpointException(
                    $"{path}: refusing to load: tensor '{name}' ({Describe(pickled)}) brings the tensors to {tensorBytes} bytes from " +
                    $"{storedBytes} bytes of storage; views may repeat stored data at most {MaxViewExpansion}-fold (a stride-0 or overlapping view?)");
            }
            plans.Add(new TensorPlan(name, pickled, elements));
        }
        return plans;
    }

    /// <summary>Checks a storage's entry against its declared element count; returns the bytes it will take.</summary>
    private static long CheckStorage(ZipArchive zip, string prefix, PickleStorage storage, string tensorName, string path, long fileLength)
    {
        string entryName = $"{prefix}/data/{storage.Key}";
        ZipArchiveEntry entry = zip.GetEntry(entryName)
            ?? throw new CheckpointException(
                $"{path}: tensor '{tensorName}' needs storage entry '{entryName}', which is missing from the zip (the checkpoint is incomplete or corrupt)");
        CheckEntrySize(entry, fileLength, path);

        int elementSize = storage.DType.ElementSize();
        // Compared by division so a hostile element count cannot overflow the byte count into a small number.
        if (storage.NumElements > entry.Length / elementSize)
        {
            string needed = storage.NumElements <= long.MaxValue / elementSize ? $"{storage.NumElements * elementSize}" : "more";
            throw new CheckpointException(
                $"{path}: storage entry '{entryName}' (used by '{tensorName}') has {entry.Length} bytes, but {storage.NumElements} " +
                $"{DTypeName(storage.DType)} elements need {needed}");
        }
        return storage.NumElements * elementSize;
    }

    /// <summary>Checks that a view stays inside its storage; returns its element count.</summary>
    private static long CheckView(PickledTensor pickled, string name, string path)
    {
        long[] size = pickled.Size;
        long[] stride = pickled.Stride;
        long available = pickled.Storage.NumElements;

        // The highest element the view touches is offset + sum((size_i - 1) * stride_i); an empty tensor touches none.
        long needed;
        long elements;
        try
        {
            elements = size.Aggregate(1L, (product, s) => checked(product * s));
            needed = elements == 0 ? 0 : checked(pickled.StorageOffset + size.Zip(stride, (s, st) => checked((s - 1) * st)).Sum() + 1);
        }
        catch (OverflowException)
        {
            elements = needed = long.MaxValue;
        }
        if (needed > available)
        {
            throw new CheckpointException(
                $"{path}: tensor '{name}' ({Describe(pickled)}) needs {needed} elements, but its storage '{pickled.Storage.Key}' holds only {available}");
        }
        if (elements > long.MaxValue / 16)
            throw new CheckpointException($"{path}: refusing to load: tensor '{name}' ({Describe(pickled)}) has more elements than any file can hold");
        return elements;
    }

    private static string Describe(PickledTensor pickled) =>
        $"{DTypeName(pickled.Storage.DType)}, size ({string.Join(", ", pickled.Size)}), stride ({string.Join(", ", pickled.Stride)}), offset {pickled.StorageOffset}";

    private static Dictionary<string, Tensor> Materialize(List<TensorPlan> plans, ZipArchive zip, string prefix, string path)
    {
        var result = new Dictionary<string, Tensor>(plans.Count);
        // The scope frees the storages and intermediate views, and on failure any tensors already made;
        // the returned tensors are detached from it (and from any caller scope) just before returning.
        using DisposeScope scope = torch.NewDisposeScope();
        var storages = new Dictionary<(string Key, ScalarType DType), Tensor>();

        foreach (TensorPlan plan in plans)
        {
            PickleStorage storage = plan.Pickled.Storage;
            if (!storages.TryGetValue((storage.Key, storage.DType), out Tensor? storageTensor))
            {
                storageTensor = LoadStorage(zip.GetEntry($"{prefix}/data/{storage.Key}")!, storage);
                storages.Add((storage.Key, storage.DType), storageTensor);
            }
            result.Add(plan.Name, Rebuild(plan, storageTensor));
        }

        foreach (Tensor tensor in result.Values)
            tensor.DetachFromDisposeScope();
        return result;
    }

    private static Tensor LoadStorage(ZipArchiveEntry entry, PickleStorage storage)
    {
        int elementSize = storage.DType.ElementSize();
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

    private static Tensor Rebuild(TensorPlan plan, Tensor storageTensor)
    {
        PickledTensor pickled = plan.Pickled;
        // Copy out of the (possibly shared, possibly larger) storage so every tensor is contiguous and owns its memory.
        Tensor result = torch.empty(pickled.Size, pickled.Storage.DType);
        if (plan.Elements > 0)
        {
            using Tensor view = storageTensor.as_strided(pickled.Size, pickled.Stride, pickled.StorageOffset);
            result.copy_(view);
        }
        if (pickled.RequiresGrad && result.is_floating_point())
            result.requires_grad_(true);
        return result;
    }

    private static string DTypeName(ScalarType dtype) => dtype.ToString().ToLowerInvariant();
}
