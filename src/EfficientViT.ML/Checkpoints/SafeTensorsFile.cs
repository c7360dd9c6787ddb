using System.Buffers.Binary;
using System.Text.Json;
using EfficientViT.ML.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
/// <c>{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}</c>,
/// then the raw little-endian tensor bytes (offsets are relative to the end of the header).
/// </summary>
internal static class SafeTensorsFile
{
    private const string MetadataKey = "__metadata__";

    // The reference implementation refuses larger headers; a bigger length is corruption, not a real header.
    private const long MaxHeaderBytes = 100_000_000;

    // Tensor bytes are copied in slices of this size so no span or buffer has to hold a whole large tensor.
    private const int ChunkBytes = 1 << 22;

    private static readonly Dictionary<string, ScalarType> DTypesByName = new()
    {
        ["F32"] = ScalarType.Float32,
        ["F64"] = ScalarType.Float64,
        ["F16"] = ScalarType.Float16,
        ["BF16"] = ScalarType.BFloat16,
        ["I64"] = ScalarType.Int64,
        ["I32"] = ScalarType.Int32,
        ["I16"] = ScalarType.Int16,
        ["I8"] = ScalarType.Int8,
        ["U8"] = ScalarType.Byte,
        ["BOOL"] = ScalarType.Bool,
    };

    private static readonly Dictionary<ScalarType, string> NamesByDType =
        DTypesByName.ToDictionary(pair => pair.Value, pair => pair.Key);

    /// <summary>
    /// Reads every tensor and the string metadata of a safetensors file.
    /// </summary>
    /// <remarks>Tensors are contiguous CPU tensors in header order, independent of any dispose scope; the caller owns them.
    /// Supported dtypes: F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL.</remarks>
    /// <param name="path">The .safetensors file.</param>
    /// <returns>The tensors by name, and the <c>__metadata__</c> entries (empty if the file has none).</returns>
    /// <exception cref="CheckpointException">The file is missing, truncated, or its header is malformed or inconsistent
    /// (bad JSON, unsupported dtype, offsets outside the data, sizes that disagree with dtype and shape, overlaps).</exception>
    public static (Dictionary<string, Tensor> Tensors, Dictionary<string, string> Metadata) Read(string path) =>
        ReadFile(path, file =>
        {
            (List<TensorEntry> entries, Dictionary<string, string> metadata, long dataStart) = ReadHeader(file, path);
            return (ReadTensors(file, entries, dataStart), metadata);
        });

    /// <summary>The <c>__metadata__</c> entries of a safetensors file, read from its header alone (checked as <see cref="Read"/> checks it; no tensor is read).</summary>
    /// <exception cref="CheckpointException">The file is missing, truncated, or its header is malformed or inconsistent.</exception>
    public static Dictionary<string, string> ReadMetadata(string path) => ReadFile(path, file => ReadHeader(file, path).Metadata);

    private static T ReadFile<T>(string path, Func<FileStream, T> read)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path))
            throw new CheckpointException($"{path}: file not found");
        if (!BitConverter.IsLittleEndian)
            throw new CheckpointException($"{path}: reading safetensors files needs a little-endian machine");

        try
        {
            using FileStream file = File.OpenRead(path);
            return read(file);
        }
        catch (CheckpointException)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{path}: could not be read ({ex.Message})", ex);
        }
    }

    /// <summary>
    /// Writes tensors and optional string metadata to a safetensors file, atomically (see <see cref="AtomicFile.Write"/>):
    /// if anything fails, an existing file at <paramref name="path"/> is left untouched.
    /// </summary>
    /// <remarks>Tensors are written as contiguous CPU copies in the given order; the inputs are not modified.</remarks>
    /// <param name="path">The file to create or replace.</param>
    /// <param name="tensors">Name → tensor, in the order to write. Names must be unique and not <c>__metadata__</c>.</param>
    /// <param name="metadata">Optional string metadata, stored under <c>__metadata__</c>.</param>
    /// <exception cref="ArgumentException">A name is repeated or reserved, or a tensor has an unsupported dtype.</exception>
    /// <exception cref="CheckpointException">The file could not be written.</exception>
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);

        List<KeyValuePair<string, Tensor>> items = tensors.ToList();
        byte[] header = BuildHeader(items, metadata, path);

        try
        {
            AtomicFile.Write(path, stream =>
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach ((_, Tensor tensor) in items)
                    WriteTensorBytes(stream, tensor);
            });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new CheckpointException($"{path}: could not be written ({ex.Message})", ex);
        }
    }

    private sealed record TensorEntry(string Name, ScalarType DType, long[] Shape, long Begin, long End);

    private static (List<TensorEntry> Entries, Dictionary<string, string> Metadata, long DataStart) ReadHeader(FileStream file, string path)
    {
        long fileLength = file.Length;
        if (fileLength < 8)
            throw new CheckpointException($"{path}: too short for a safetensors file ({fileLength} bytes; the 8-byte header length alone needs 8)");

        Span<byte> lengthBytes = stackalloc byte[8];
        file.ReadExactly(lengthBytes);
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > (ulong)(fileLength - 8))
            throw new CheckpointException($"{path}: header length {headerLength} exceeds the {fileLength - 8} bytes that follow it (truncated or not a safetensors file)");
        if (headerLength > MaxHeaderBytes)
            throw new CheckpointException($"{path}: header length {headerLength} exceeds the {MaxHeaderBytes}-byte limit (corrupt or not a safetensors file)");

        var header = new byte[headerLength];
        file.ReadExactly(header);
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;

        // JsonDocument accepts invalid UTF-8 inside strings and fails only when a name is read, with an exception
        // that does not name the file.
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw new CheckpointException($"{path}: the header is not valid UTF-8 (corrupt or not a safetensors file)");

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(header);
        }
        catch (JsonException ex)
        {
            throw new CheckpointException($"{path}: the header is not valid JSON ({ex.Message})", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{path}: the header is a JSON {document.RootElement.ValueKind}, expected an object");

            var entries = new List<TensorEntry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>();
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                // System.Text.Json keeps repeated names; a repeated tensor name is ambiguous, so refuse it.
                if (!seen.Add(property.Name))
                    throw new CheckpointException($"{path}: the header names '{property.Name}' more than once");
                if (property.Name == MetadataKey)
                    ReadMetadata(property.Value, metadata, path);
                else
                    entries.Add(ReadEntry(property, dataLength, path));
                if (entries.Count > CheckpointLimits.MaxTensors)
                    throw new CheckpointException($"{path}: refusing to load: the header lists more than {CheckpointLimits.MaxTensors} tensors");
            }
            CheckNoOverlap(entries, path);
            return (entries, metadata, dataStart);
        }
    }

    private static void ReadMetadata(JsonElement element, Dictionary<string, string> metadata, string path)
    {
        if (element.ValueKind != JsonValueKind.Object)
            throw new CheckpointException($"{path}: '{MetadataKey}' is a JSON {element.ValueKind}, expected an object of strings");
        foreach (JsonProperty item in element.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new CheckpointException($"{path}: metadata '{item.Name}' is a JSON {item.Value.ValueKind}, expected a string");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    private static TensorEntry ReadEntry(JsonProperty property, long dataLength, string path)
    {
        string name = property.Name;
        JsonElement info = property.Value;
        if (info.ValueKind != JsonValueKind.Object)
            throw new CheckpointException($"{path}: tensor '{name}': header entry is a JSON {info.ValueKind}, expected an object");

        if (!info.TryGetProperty("dtype", out JsonElement dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new CheckpointException($"{path}: tensor '{name}': missing or non-string 'dtype'");
        string dtypeName = dtypeElement.GetString()!;
        if (!DTypesByName.TryGetValue(dtypeName, out ScalarType dtype))
        {
            throw new CheckpointException(
                $"{path}: tensor '{name}': dtype '{dtypeName}' is not supported (supported: {string.Join(", ", DTypesByName.Keys)})");
        }

        long[] shape = ReadIntegers(info, "shape", name, path);
        if (shape.Length > CheckpointLimits.MaxDimensions)
            throw new CheckpointException($"{path}: tensor '{name}': shape has {shape.Length} dimensions (at most {CheckpointLimits.MaxDimensions} are accepted)");
        long[] offsets = ReadIntegers(info, "data_offsets", name, path);
        if (offsets.Length != 2)
            throw new CheckpointException($"{path}: tensor '{name}': 'data_offsets' has {offsets.Length} numbers, expected [begin, end]");
        (long begin, long end) = (offsets[0], offsets[1]);
        if (begin > end || end > dataLength)
        {
            throw new CheckpointException(
                $"{path}: tensor '{name}': data_offsets [{begin}, {end}] are outside the data section of {dataLength} bytes");
        }

        long expected;
        try
        {
            expected = checked(shape.Aggregate(1L, (product, dim) => product * dim) * dtype.ElementSize());
        }
        catch (OverflowException)
        {
            throw new CheckpointException($"{path}: tensor '{name}': shape [{string.Join(", ", shape)}] is too large");
        }
        if (end - begin != expected)
        {
            throw new CheckpointException(
                $"{path}: tensor '{name}': data_offsets [{begin}, {end}] span {end - begin} bytes, but {dtypeName} " +
                $"shape [{string.Join(", ", shape)}] needs {expected}");
        }
        return new TensorEntry(name, dtype, shape, begin, end);
    }

    private static long[] ReadIntegers(JsonElement info, string field, string name, string path)
    {
        if (!info.TryGetProperty(field, out JsonElement array) || array.ValueKind != JsonValueKind.Array)
            throw new CheckpointException($"{path}: tensor '{name}': missing or non-array '{field}'");
        var values = new long[array.GetArrayLength()];
        int i = 0;
        foreach (JsonElement item in array.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out long value) || value < 0)
                throw new CheckpointException($"{path}: tensor '{name}': '{field}' holds {item.GetRawText()}, expected non-negative integers");
            values[i++] = value;
        }
        return values;
    }

    private static void CheckNoOverlap(List<TensorEntry> entries, string path)
    {
        // Sorted by start, two ranges overlap exactly when one starts before its predecessor ends.
        // Unused gaps between tensors are tolerated on reading; this writer never produces them.
        TensorEntry? previous = null;
        foreach (TensorEntry entry in entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin))
        {
            if (previous is not null && entry.Begin < previous.End)
            {
                throw new CheckpointException(
                    $"{path}: tensor '{entry.Name}': data_offsets [{entry.Begin}, {entry.End}] overlap those of '{previous.Name}' [{previous.Begin}, {previous.End}]");
            }
            previous = entry;
        }
    }

    private static Dictionary<string, Tensor> ReadTensors(FileStream file, List<TensorEntry> entries, long dataStart)
    {
        var result = new Dictionary<string, Tensor>(entries.Count);
        // The scope frees everything if reading fails part way; the returned tensors are detached from it at the end.
        using DisposeScope scope = torch.NewDisposeScope();
        foreach (TensorEntry entry in entries)
        {
            Tensor tensor = torch.empty(entry.Shape, entry.DType);
            file.Position = dataStart + entry.Begin;
            ForEachChunk(tensor, chunk => file.ReadExactly(chunk));
            result.Add(entry.Name, tensor);
        }
        foreach (Tensor tensor in result.Values)
            tensor.DetachFromDisposeScope();
        return result;
    }

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> items, IReadOnlyDictionary<string, string>? metadata, string path)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach ((string key, string value) in metadata)
                    json.WriteString(key, value);
                json.WriteEndObject();
            }

            var names = new HashSet<string>();
            long offset = 0;
            foreach ((string name, Tensor tensor) in items)
            {
                ArgumentNullException.ThrowIfNull(name);
                ArgumentNullException.ThrowIfNull(tensor);
                if (name == MetadataKey)
                    throw new ArgumentException($"{path}: '{MetadataKey}' is reserved and cannot name a tensor", nameof(items));
                if (!names.Add(name))
                    throw new ArgumentException($"{path}: tensor name '{name}' is given more than once", nameof(items));
                if (!NamesByDType.TryGetValue(tensor.dtype, out string? dtypeName))
                {
                    throw new ArgumentException(
                        $"{path}: tensor '{name}' has dtype {tensor.dtype}, which safetensors writing does not support (supported: {string.Join(", ", NamesByDType.Keys)})",
                        nameof(items));
                }

                long byteCount = tensor.numel() * tensor.ElementSize;
                json.WriteStartObject(name);
                json.WriteString("dtype", dtypeName);
                json.WriteStartArray("shape");
                foreach (long dim in tensor.shape)
                    json.WriteNumberValue(dim);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + byteCount);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += byteCount;
            }
            json.WriteEndObject();
        }

        // The format asks for the data to start 8-byte aligned; trailing spaces are valid JSON padding.
        int padding = (int)((8 - (8 + buffer.Length) % 8) % 8);
        for (int i = 0; i < padding; i++)
            buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    private static void WriteTensorBytes(Stream stream, Tensor tensor)
    {
        // A contiguous CPU view/copy; cpu() and contiguous() return new handles even when no copy is needed.
        using Tensor cpu = tensor.cpu();
        using Tensor contiguous = cpu.contiguous();
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors writing needs a little-endian machine");
        ForEachChunk(contiguous, chunk => stream.Write(chunk));
    }

    private delegate void ChunkAction(Span<byte> chunk);

    // Calls action on the raw bytes of a contiguous CPU tensor, a slice at a time.
    private static void ForEachChunk(Tensor contiguous, ChunkAction action)
    {
        long total = contiguous.numel();
        if (total == 0)
            return;
        using Tensor flat = contiguous.reshape(-1);
        long chunkElements = Math.Max(1, ChunkBytes / flat.ElementSize);
        for (long start = 0; start < total; start += chunkElements)
        {
            using Tensor slice = flat.narrow(0, start, Math.Min(chunkElements, total - start));
            action(slice.bytes);
        }
    }
}
