using System.Reflection;
using System.Runtime.InteropServices;
using EfficientViT.ML.IO;
using TorchSharp;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// Builds one ONNX graph (inputs, initializers, nodes, outputs) and serializes it as an ONNX <c>ModelProto</c>,
/// without any protobuf or ONNX library.
/// </summary>
/// <remarks>
/// <para>
/// Every value in the graph has a name: graph inputs, initializers (constant tensors) and node outputs share one
/// namespace, and every name is unique. Nodes must be added in topological order: a node may only consume values
/// that already exist, which is checked when it is added, so a mistake fails at the call that made it.
/// </para>
/// <para>
/// The model is written with IR version <see cref="IrVersion"/> and imports the default ONNX operator set
/// (domain <c>""</c>) at the version given to <see cref="ToBytes"/>. Operator names, attributes and input counts are
/// not checked here; ONNX Runtime or <c>onnx.checker</c> do that. Tensor data is stored inline, so the whole model
/// must stay below protobuf's 2 GiB limit. Instances are not thread-safe.
/// </para>
/// </remarks>
internal sealed class OnnxGraphBuilder
{
    /// <summary>The ONNX IR version written to <c>ModelProto.ir_version</c> (ONNX 1.10 to 1.13, opsets up to 18).</summary>
    public const int IrVersion = 8;

    /// <summary>The default operator set version of <see cref="ToBytes"/> and <see cref="Save"/>.</summary>
    public const int DefaultOpsetVersion = 17;

    /// <summary>The default <c>producer_name</c>.</summary>
    public const string DefaultProducerName = "EfficientViT.ML";

    private readonly string graphName;
    // Every value name in use: graph inputs, initializers and node outputs.
    private readonly HashSet<string> names = new(StringComparer.Ordinal);
    // Next suffix to try per name hint, so that making many names from one hint stays linear.
    private readonly Dictionary<string, int> nextSuffix = new(StringComparer.Ordinal);
    private readonly List<ValueInfo> inputs = [];
    private readonly List<ValueInfo> outputs = [];
    private readonly List<Initializer> initializers = [];
    private readonly List<Node> nodes = [];
    private readonly List<KeyValuePair<string, string>> metadata = [];

    /// <summary>Starts an empty graph.</summary>
    /// <param name="graphName">The graph's name (<c>GraphProto.name</c>); not empty.</param>
    public OnnxGraphBuilder(string graphName)
    {
        ArgumentException.ThrowIfNullOrEmpty(graphName);
        this.graphName = graphName;
    }

    /// <summary>A human-readable description of the model (<c>ModelProto.doc_string</c>); empty leaves it out.</summary>
    public string DocString
    {
        get;
        set => field = value ?? throw new ArgumentNullException(nameof(value));
    } = "";

    /// <summary>Declares a graph input, which the caller feeds at run time.</summary>
    /// <param name="name">The input's name; it must not be in use yet, since callers feed inputs by name.</param>
    /// <param name="type">The element type.</param>
    /// <param name="shape">The dimensions, each a fixed size or a symbolic name such as <c>"batch"</c>.</param>
    /// <returns><paramref name="name"/>, to pass to <see cref="AddNode(string, IReadOnlyList{string}, OnnxAttribute[])"/>.</returns>
    /// <exception cref="ArgumentException">The name is empty or already in use.</exception>
    public string AddInput(string name, OnnxElementType type, params OnnxDimension[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ClaimExactName(name);
        inputs.Add(new ValueInfo(name, type, (OnnxDimension[])shape.Clone()));
        return name;
    }

    /// <summary>Declares an existing value (usually the last node's output) as a graph output.</summary>
    /// <param name="name">A graph input, initializer or node output that exists already.</param>
    /// <param name="type">The element type.</param>
    /// <param name="shape">The dimensions, each a fixed size or a symbolic name such as <c>"batch"</c>.</param>
    /// <exception cref="ArgumentException">No value has that name, or it is already an output.</exception>
    public void AddOutput(string name, OnnxElementType type, params OnnxDimension[] shape)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(shape);
        if (!names.Contains(name))
            throw new ArgumentException($"'{name}' is not a value of graph '{graphName}': add the node that produces it first.", nameof(name));
        if (outputs.Any(o => o.Name == name))
            throw new ArgumentException($"'{name}' is already an output of graph '{graphName}'.", nameof(name));
        outputs.Add(new ValueInfo(name, type, (OnnxDimension[])shape.Clone()));
    }

    /// <summary>Adds a constant float32 tensor.</summary>
    /// <param name="nameHint">The wanted name; if it is taken, <c>_1</c>, <c>_2</c>, … is appended.</param>
    /// <param name="values">The elements in row-major order; copied.</param>
    /// <param name="shape">The dimensions; none for a scalar. Their product must equal the number of values.</param>
    /// <returns>The initializer's unique name.</returns>
    public string AddInitializer(string nameHint, float[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        return AddInitializerCore(nameHint, OnnxElementType.Float, shape, values.LongLength,
            LittleEndianCopy(MemoryMarshal.AsBytes(values.AsSpan()), sizeof(float)));
    }

    /// <summary>Adds a constant int64 tensor, e.g. the shape operand of <c>Reshape</c>.</summary>
    /// <param name="nameHint">The wanted name; if it is taken, <c>_1</c>, <c>_2</c>, … is appended.</param>
    /// <param name="values">The elements in row-major order; copied.</param>
    /// <param name="shape">The dimensions; none for a scalar. Their product must equal the number of values.</param>
    /// <returns>The initializer's unique name.</returns>
    public string AddInitializer(string nameHint, long[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        return AddInitializerCore(nameHint, OnnxElementType.Int64, shape, values.LongLength,
            LittleEndianCopy(MemoryMarshal.AsBytes(values.AsSpan()), sizeof(long)));
    }

    /// <summary>Adds a constant int32 tensor, e.g. the quantized bias of an int8 convolution.</summary>
    /// <param name="nameHint">The wanted name; if it is taken, <c>_1</c>, <c>_2</c>, … is appended.</param>
    /// <param name="values">The elements in row-major order; copied.</param>
    /// <param name="shape">The dimensions; none for a scalar. Their product must equal the number of values.</param>
    /// <returns>The initializer's unique name.</returns>
    public string AddInitializer(string nameHint, int[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        return AddInitializerCore(nameHint, OnnxElementType.Int32, shape, values.LongLength,
            LittleEndianCopy(MemoryMarshal.AsBytes(values.AsSpan()), sizeof(int)));
    }

    /// <summary>Adds a constant int8 tensor, e.g. the quantized weights of a convolution.</summary>
    /// <param name="nameHint">The wanted name; if it is taken, <c>_1</c>, <c>_2</c>, … is appended.</param>
    /// <param name="values">The elements in row-major order; copied.</param>
    /// <param name="shape">The dimensions; none for a scalar. Their product must equal the number of values.</param>
    /// <returns>The initializer's unique name.</returns>
    public string AddInitializer(string nameHint, sbyte[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        return AddInitializerCore(nameHint, OnnxElementType.Int8, shape, values.LongLength, MemoryMarshal.AsBytes(values.AsSpan()).ToArray());
    }

    /// <summary>Adds a constant uint8 tensor, e.g. the zero point of a quantized activation.</summary>
    /// <param name="nameHint">The wanted name; if it is taken, <c>_1</c>, <c>_2</c>, … is appended.</param>
    /// <param name="values">The elements in row-major order; copied.</param>
    /// <param name="shape">The dimensions; none for a scalar. Their product must equal the number of values.</param>
    /// <returns>The initializer's unique name.</returns>
    public string AddInitializer(string nameHint, byte[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        return AddInitializerCore(nameHint, OnnxElementType.UInt8, shape, values.LongLength, (byte[])values.Clone());
    }

    /// <summary>Adds a constant string tensor, e.g. class names to <c>Gather</c> from.</summary>
    /// <param name="nameHint">The wanted name; if it is taken, <c>_1</c>, <c>_2</c>, … is appended.</param>
    /// <param name="values">The elements in row-major order (stored as UTF-8).</param>
    /// <param name="shape">The dimensions; none for a scalar. Their product must equal the number of values.</param>
    /// <returns>The initializer's unique name.</returns>
    public string AddInitializer(string nameHint, string[] values, params long[] shape)
    {
        ArgumentNullException.ThrowIfNull(values);
        var name = AddInitializerCore(nameHint, OnnxElementType.String, shape, values.LongLength, []);
        initializers[^1] = initializers[^1] with { Strings = (string[])values.Clone() };
        return name;
    }

    /// <summary>Adds a constant tensor with the shape and data of a TorchSharp tensor.</summary>
    /// <param name="nameHint">The wanted name; if it is taken, <c>_1</c>, <c>_2</c>, … is appended.</param>
    /// <param name="tensor">A float32 or int64 tensor of any shape, on any device, contiguous or not; its data is copied.</param>
    /// <returns>The initializer's unique name.</returns>
    /// <exception cref="ArgumentException">The tensor is neither float32 nor int64.</exception>
    public string AddInitializer(string nameHint, torch.Tensor tensor)
    {
        ArgumentNullException.ThrowIfNull(tensor);
        (OnnxElementType type, int elementSize) = tensor.dtype switch
        {
            torch.ScalarType.Float32 => (OnnxElementType.Float, sizeof(float)),
            torch.ScalarType.Int64 => (OnnxElementType.Int64, sizeof(long)),
            _ => throw new ArgumentException(
                $"Initializer '{nameHint}': only float32 and int64 tensors are supported, not {tensor.dtype}.", nameof(tensor)),
        };

        // cpu() and contiguous() return new handles even when nothing is copied; all of them are released here.
        using torch.Tensor detached = tensor.detach();
        using torch.Tensor cpu = detached.cpu();
        using torch.Tensor contiguous = cpu.contiguous();
        long count = contiguous.numel();
        byte[] raw = count == 0 ? [] : LittleEndianCopy(contiguous.bytes, elementSize);
        return AddInitializerCore(nameHint, type, contiguous.shape, count, raw);
    }

    /// <summary>Adds a node with one output, whose name is generated from the operator type (e.g. <c>Conv_12</c>).</summary>
    /// <param name="opType">The operator, e.g. <c>"Conv"</c>, from the default ONNX domain.</param>
    /// <param name="inputs">Names of existing values, in the operator's input order; <c>""</c> for an omitted optional input.</param>
    /// <param name="attributes">The node's attributes; names must be distinct.</param>
    /// <returns>The output's name.</returns>
    /// <exception cref="ArgumentException">An input does not exist yet, or two attributes share a name.</exception>
    public string AddNode(string opType, IReadOnlyList<string> inputs, params OnnxAttribute[] attributes) =>
        AddNodeCore(opType, inputs, outputCount: 1, outputName: null, attributes)[0];

    /// <summary>Adds a node with one output of a chosen name, such as the value that becomes the graph's output.</summary>
    /// <param name="opType">The operator, e.g. <c>"Softmax"</c>, from the default ONNX domain.</param>
    /// <param name="inputs">Names of existing values, in the operator's input order; <c>""</c> for an omitted optional input.</param>
    /// <param name="outputName">The output's name; it must not be in use yet.</param>
    /// <param name="attributes">The node's attributes; names must be distinct.</param>
    /// <returns><paramref name="outputName"/>.</returns>
    /// <exception cref="ArgumentException">The name is taken, an input does not exist yet, or two attributes share a name.</exception>
    public string AddNode(string opType, IReadOnlyList<string> inputs, string outputName, params OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(outputName);
        return AddNodeCore(opType, inputs, outputCount: 1, outputName, attributes)[0];
    }

    /// <summary>Adds a node with several outputs (e.g. <c>Split</c>), named <c>{opType}_{node}_{k}</c>.</summary>
    /// <param name="opType">The operator, e.g. <c>"Split"</c>, from the default ONNX domain.</param>
    /// <param name="inputs">Names of existing values, in the operator's input order; <c>""</c> for an omitted optional input.</param>
    /// <param name="outputCount">The number of outputs, 1 or more.</param>
    /// <param name="attributes">The node's attributes; names must be distinct.</param>
    /// <returns>The outputs' names, in order.</returns>
    /// <exception cref="ArgumentException">An input does not exist yet, or two attributes share a name.</exception>
    public IReadOnlyList<string> AddNode(string opType, IReadOnlyList<string> inputs, int outputCount, params OnnxAttribute[] attributes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(outputCount, 1);
        return AddNodeCore(opType, inputs, outputCount, outputName: null, attributes);
    }

    /// <summary>
    /// Removes the nodes none of whose outputs is read by another node or is a graph output, until none is
    /// left; returns how many went. ONNX Runtime runs every node of a graph, used or not.
    /// </summary>
    public int RemoveUnusedNodes()
    {
        var removed = 0;
        while (true)
        {
            var read = new HashSet<string>(nodes.SelectMany(node => node.Inputs), StringComparer.Ordinal);
            read.UnionWith(outputs.Select(output => output.Name));
            var count = nodes.RemoveAll(node => !node.Outputs.Any(read.Contains));
            if (count == 0)
                return removed;
            removed += count;
        }
    }

    /// <summary>Adds a key/value pair to the model's metadata (<c>ModelProto.metadata_props</c>).</summary>
    /// <param name="key">The key; not empty, and distinct from the keys added before, as ONNX asks.</param>
    /// <param name="value">The value.</param>
    public void AddMetadata(string key, string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        ArgumentNullException.ThrowIfNull(value);
        if (metadata.Any(entry => entry.Key == key))
            throw new ArgumentException($"Metadata key '{key}' was already added.", nameof(key));
        metadata.Add(new(key, value));
    }

    /// <summary>Serializes the model: a <c>ModelProto</c> with the graph, its operator set import and metadata.</summary>
    /// <param name="opsetVersion">The version of the default ONNX operator set the nodes follow.</param>
    /// <param name="producerName">Written to <c>producer_name</c>.</param>
    /// <param name="producerVersion">Written to <c>producer_version</c>; <see langword="null"/> for this library's version.</param>
    /// <returns>The bytes of an <c>.onnx</c> file.</returns>
    /// <exception cref="InvalidOperationException">The graph has no output.</exception>
    public byte[] ToBytes(int opsetVersion = DefaultOpsetVersion, string producerName = DefaultProducerName, string? producerVersion = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(opsetVersion, 1);
        ArgumentNullException.ThrowIfNull(producerName);
        if (outputs.Count == 0)
            throw new InvalidOperationException($"Graph '{graphName}' has no output: call AddOutput first.");

        // Initial capacity: the tensor data plus some room for everything else, to avoid most regrowth.
        long dataBytes = initializers.Sum(i => (long)i.RawData.Length);
        var writer = new ProtobufWriter((int)Math.Min(dataBytes + 64 * 1024, Array.MaxLength));

        // ModelProto, fields in field-number order as protobuf serializers write them.
        writer.WriteVarint(1, IrVersion);
        writer.WriteString(2, producerName);
        writer.WriteString(3, producerVersion ?? LibraryVersion);
        if (DocString.Length > 0)
            writer.WriteString(6, DocString);
        writer.WriteMessage(7, WriteGraph);
        writer.WriteMessage(8, opset =>
        {
            opset.WriteString(1, ""); // OperatorSetIdProto.domain: the default ONNX domain
            opset.WriteVarint(2, opsetVersion);
        });
        foreach (var entry in metadata)
        {
            writer.WriteMessage(14, prop =>
            {
                prop.WriteString(1, entry.Key);
                prop.WriteString(2, entry.Value);
            });
        }
        return writer.ToArray();
    }

    /// <summary>Writes the model to a file atomically: a failure leaves an existing file untouched.</summary>
    /// <param name="path">The <c>.onnx</c> file to create or replace; missing directories are created.</param>
    /// <param name="opsetVersion">The version of the default ONNX operator set the nodes follow.</param>
    /// <param name="producerName">Written to <c>producer_name</c>.</param>
    /// <param name="producerVersion">Written to <c>producer_version</c>; <see langword="null"/> for this library's version.</param>
    public void Save(string path, int opsetVersion = DefaultOpsetVersion, string producerName = DefaultProducerName, string? producerVersion = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        // Serialize first, so that an invalid graph throws before any file is touched.
        byte[] bytes = ToBytes(opsetVersion, producerName, producerVersion);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    private static string LibraryVersion { get; } = ReadLibraryVersion();

    private static string ReadLibraryVersion()
    {
        var assembly = typeof(OnnxGraphBuilder).Assembly;
        string? version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? assembly.GetName().Version?.ToString();
        // The SDK appends "+<commit>" to the informational version; the release number is what a reader wants.
        return version is null ? "" : version.Split('+')[0];
    }

    private string AddInitializerCore(string nameHint, OnnxElementType type, long[] shape, long count, byte[] raw)
    {
        ArgumentException.ThrowIfNullOrEmpty(nameHint);
        ArgumentNullException.ThrowIfNull(shape);
        long expected = 1;
        foreach (long dim in shape)
        {
            if (dim < 0)
                throw new ArgumentException($"Initializer '{nameHint}': dimension {dim} is negative.", nameof(shape));
            expected = checked(expected * dim);
        }
        if (expected != count)
            throw new ArgumentException(
                $"Initializer '{nameHint}': shape [{string.Join(", ", shape)}] holds {expected} elements but {count} were given.", nameof(shape));

        string name = ClaimUniqueName(nameHint);
        initializers.Add(new Initializer(name, type, (long[])shape.Clone(), raw));
        return name;
    }

    private string[] AddNodeCore(string opType, IReadOnlyList<string> inputs, int outputCount, string? outputName, OnnxAttribute[] attributes)
    {
        ArgumentException.ThrowIfNullOrEmpty(opType);
        ArgumentNullException.ThrowIfNull(inputs);
        ArgumentNullException.ThrowIfNull(attributes);

        string nodeName = $"{opType}_{nodes.Count}";
        string[] inputArray = inputs.ToArray();
        foreach (string input in inputArray)
        {
            if (input is null)
                throw new ArgumentException($"Node {nodeName}: an input is null; use \"\" for an omitted optional input.", nameof(inputs));
            // "" is ONNX's marker of an omitted optional input, not a reference.
            if (input.Length > 0 && !names.Contains(input))
                throw new ArgumentException(
                    $"Node {nodeName}: input '{input}' is not a graph input, initializer or output of an earlier node.", nameof(inputs));
        }

        var attributeNames = new HashSet<string>(StringComparer.Ordinal);
        foreach (OnnxAttribute attribute in attributes)
        {
            ArgumentNullException.ThrowIfNull(attribute, nameof(attributes));
            if (!attributeNames.Add(attribute.Name))
                throw new ArgumentException($"Node {nodeName}: attribute '{attribute.Name}' is given twice.", nameof(attributes));
        }

        // Claim the names only once everything is valid, so that a rejected node leaves no trace.
        string[] outputs;
        if (outputName is not null)
        {
            ClaimExactName(outputName);
            outputs = [outputName];
        }
        else
        {
            outputs = new string[outputCount];
            for (int k = 0; k < outputCount; k++)
                outputs[k] = ClaimUniqueName(outputCount == 1 ? nodeName : $"{nodeName}_{k}");
        }

        nodes.Add(new Node(nodeName, opType, inputArray, outputs, (OnnxAttribute[])attributes.Clone()));
        return outputs;
    }

    private void ClaimExactName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!names.Add(name))
            throw new ArgumentException($"'{name}' is already used in graph '{graphName}'.", nameof(name));
    }

    private string ClaimUniqueName(string hint)
    {
        if (names.Add(hint))
            return hint;
        int suffix = nextSuffix.GetValueOrDefault(hint, 1);
        string candidate;
        do
        {
            candidate = $"{hint}_{suffix++}";
        }
        while (!names.Add(candidate));
        nextSuffix[hint] = suffix;
        return candidate;
    }

    // ONNX stores raw tensor data little-endian; this copies it and fixes the byte order on big-endian machines.
    private static byte[] LittleEndianCopy(ReadOnlySpan<byte> native, int elementSize)
    {
        byte[] copy = native.ToArray();
        if (!BitConverter.IsLittleEndian)
        {
            for (int offset = 0; offset < copy.Length; offset += elementSize)
                copy.AsSpan(offset, elementSize).Reverse();
        }
        return copy;
    }

    private void WriteGraph(ProtobufWriter graph)
    {
        // GraphProto, in field-number order: node = 1, name = 2, initializer = 5, input = 11, output = 12.
        foreach (Node node in nodes)
            graph.WriteMessage(1, w => WriteNode(w, node));
        graph.WriteString(2, graphName);
        foreach (Initializer initializer in initializers)
            graph.WriteMessage(5, w => WriteTensor(w, initializer));
        foreach (ValueInfo input in inputs)
            graph.WriteMessage(11, w => WriteValueInfo(w, input));
        foreach (ValueInfo output in outputs)
            graph.WriteMessage(12, w => WriteValueInfo(w, output));
    }

    private static void WriteNode(ProtobufWriter w, Node node)
    {
        // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5; domain = 7 left out (default domain).
        foreach (string input in node.Inputs)
            w.WriteString(1, input);
        foreach (string output in node.Outputs)
            w.WriteString(2, output);
        w.WriteString(3, node.Name);
        w.WriteString(4, node.OpType);
        foreach (OnnxAttribute attribute in node.Attributes)
            w.WriteMessage(5, a => WriteAttribute(a, attribute));
    }

    private static void WriteAttribute(ProtobufWriter w, OnnxAttribute attribute)
    {
        // AttributeProto: name = 1, f = 2, i = 3, s = 4, floats = 7, ints = 8, type = 20. onnx.proto declares
        // floats and ints as plain proto2 repeated fields, so they are written unpacked, as protobuf itself would.
        w.WriteString(1, attribute.Name);
        switch (attribute.Kind)
        {
            case OnnxAttributeKind.Float:
                w.WriteFloat(2, attribute.FloatValue);
                break;
            case OnnxAttributeKind.Int:
                w.WriteVarint(3, attribute.IntValue);
                break;
            case OnnxAttributeKind.String:
                w.WriteString(4, attribute.StringValue!);
                break;
            case OnnxAttributeKind.Floats:
                w.WriteRepeatedFloat(7, attribute.FloatValues);
                break;
            case OnnxAttributeKind.Ints:
                w.WriteRepeatedInt64(8, attribute.IntValues);
                break;
            default:
                throw new InvalidOperationException($"Unknown attribute kind {attribute.Kind}.");
        }
        w.WriteVarint(20, (int)attribute.Kind);
    }

    private static void WriteTensor(ProtobufWriter w, Initializer initializer)
    {
        // TensorProto: dims = 1 (not declared packed), data_type = 2, string_data = 6, name = 8, raw_data = 9 (little-endian).
        w.WriteRepeatedInt64(1, initializer.Dims);
        w.WriteVarint(2, (int)initializer.Type);
        foreach (var value in initializer.Strings ?? [])
            w.WriteString(6, value);
        w.WriteString(8, initializer.Name);
        if (initializer.Strings is null)
            w.WriteBytes(9, initializer.RawData);
    }

    private static void WriteValueInfo(ProtobufWriter w, ValueInfo value)
    {
        // ValueInfoProto { name = 1, type = 2: TypeProto { tensor_type = 1: Tensor { elem_type = 1, shape = 2:
        // TensorShapeProto { dim = 1: Dimension { dim_value = 1 | dim_param = 2 } } } } }
        w.WriteString(1, value.Name);
        w.WriteMessage(2, type => type.WriteMessage(1, tensor =>
        {
            tensor.WriteVarint(1, (int)value.Type);
            // Written even with no dims: an empty shape means a scalar, while a missing one would mean unknown rank.
            tensor.WriteMessage(2, shape =>
            {
                foreach (OnnxDimension dim in value.Shape)
                {
                    shape.WriteMessage(1, d =>
                    {
                        if (dim.IsSymbolic)
                            d.WriteString(2, dim.Name!);
                        else
                            d.WriteVarint(1, dim.Size);
                    });
                }
            });
        }));
    }

    private sealed record ValueInfo(string Name, OnnxElementType Type, OnnxDimension[] Shape);

    private sealed record Initializer(string Name, OnnxElementType Type, long[] Dims, byte[] RawData)
    {
        /// <summary>The elements of a string tensor, which ONNX keeps in string_data rather than raw_data.</summary>
        public string[]? Strings { get; init; }
    }

    private sealed record Node(string Name, string OpType, string[] Inputs, string[] Outputs, OnnxAttribute[] Attributes);
}
