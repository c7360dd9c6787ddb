using EfficientViT.ML.Onnx;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// Turns the one-row graph a saved chain runs back into a batched one. The exporter writes that graph with a
/// symbolic batch axis on its input and drops the axis only at the end, with a <c>Reshape</c> of each output
/// to a constant shape (<see cref="OnnxExportOptions.DropBatchAxis"/>), which is what lets ML.NET's
/// <c>ApplyOnnxModel</c> declare plain vector columns. Replacing those reshapes by identities, with the batch
/// axis declared again, gives the graph that scores any number of images, with the same network.
/// </summary>
internal static class RowGraphBatching
{
    // onnx.proto field numbers.
    internal const int ModelGraph = 7;
    private const int ModelMetadata = 14;
    internal const int GraphNode = 1;
    internal const int GraphInitializer = 5;
    internal const int GraphInput = 11;
    internal const int GraphOutput = 12;
    internal const int NodeInput = 1;
    private const int NodeOutput = 2;
    private const int NodeName = 3;
    private const int NodeOpType = 4;
    internal const int TensorName = 8;
    internal const int ValueName = 1;
    internal const int ValueType = 2;
    private const int TypeTensor = 1;
    private const int TensorElementType = 1;
    private const int TensorShape = 2;
    private const int ShapeDim = 1;
    private const int DimValue = 1;
    private const int DimParam = 2;

    /// <summary>The model's metadata (<c>efficientvit.variant</c>, …), key to value.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model.</exception>
    public static Dictionary<string, string> Metadata(ReadOnlyMemory<byte> model)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in ProtobufReader.Fields(model).Where(f => f.Number == ModelMetadata && f.WireType == 2))
        {
            var parts = ProtobufReader.Fields(entry.Payload);
            var key = parts.FirstOrDefault(p => p.Number == 1).Text ?? "";
            metadata[key] = parts.FirstOrDefault(p => p.Number == 2).Text ?? "";
        }
        return metadata;
    }

    /// <summary>The graph's one input (initializers aside): its name and dimensions, null for a symbolic one.</summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model, or the graph has not exactly one input.</exception>
    public static (string Name, long?[] Dims) Input(ReadOnlyMemory<byte> model)
    {
        var inputs = Inputs(GraphFields(model));
        if (inputs.Count != 1)
            throw new InvalidDataException($"the ONNX graph has {inputs.Count} inputs; one was expected.");
        return (inputs[0].Name, inputs[0].Dims.Select(d => d.Symbolic is null ? (long?)d.Value : null).ToArray());
    }

    internal static List<ProtobufReader.Field> GraphFields(ReadOnlyMemory<byte> model)
    {
        var graphField = ProtobufReader.Fields(model).SingleOrDefault(f => f.Number == ModelGraph && f.WireType == 2);
        if (graphField.Encoded.IsEmpty)
            throw new InvalidDataException("the ONNX model has no graph.");
        return ProtobufReader.Fields(graphField.Payload);
    }

    private static List<Value> Inputs(List<ProtobufReader.Field> graph)
    {
        var initializers = graph.Where(f => f.Number == GraphInitializer)
            .Select(f => ProtobufReader.Fields(f.Payload).FirstOrDefault(p => p.Number == TensorName).Text)
            .ToHashSet(StringComparer.Ordinal);
        return graph.Where(f => f.Number == GraphInput).Select(f => Value.Parse(f.Payload)).Where(v => !initializers.Contains(v.Name)).ToList();
    }

    /// <summary>
    /// The batched graph of <paramref name="rowGraph"/>, or null with the reason when it is not a graph of that
    /// form (its input has no symbolic batch axis, or an output without one is not a reshape of a constant shape).
    /// </summary>
    /// <exception cref="InvalidDataException">The bytes are not an ONNX model.</exception>
    public static byte[]? Batched(byte[] rowGraph, out string? reason)
    {
        var graph = GraphFields(rowGraph);
        var initializers = graph.Where(f => f.Number == GraphInitializer)
            .Select(f => ProtobufReader.Fields(f.Payload).FirstOrDefault(p => p.Number == TensorName).Text)
            .ToHashSet(StringComparer.Ordinal);
        var inputs = Inputs(graph);
        if (inputs.Count != 1 || inputs[0].Dims.Count == 0 || inputs[0].Dims[0].Symbolic is null)
        {
            reason = "its input has no symbolic batch axis";
            return null;
        }
        var batchName = inputs[0].Dims[0].Symbolic!;
        var nodes = graph.Where(f => f.Number == GraphNode).Select(f => Node.Parse(f.Payload)).ToList();

        // The outputs that lost the batch axis: their rank is below the input's, and a constant-shape reshape makes them.
        var rewritten = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var output in graph.Where(f => f.Number == GraphOutput).Select(f => Value.Parse(f.Payload)))
        {
            if (output.Dims.Count > 0 && output.Dims[0].Symbolic == batchName)
                continue;
            var producer = nodes.LastOrDefault(n => n.Outputs.Contains(output.Name));
            if (producer is not { OpType: "Reshape", Inputs.Count: 2 } || !initializers.Contains(producer.Inputs[1]))
            {
                reason = $"its output '{output.Name}' has no batch axis and is not a reshape to a constant shape";
                return null;
            }
            rewritten[output.Name] = producer;
        }
        reason = null;
        if (rewritten.Count == 0)
            return rowGraph;

        // The constant shapes only those reshapes read go too (ONNX Runtime warns about initializers nothing reads).
        var unused = rewritten.Values.Select(node => node.Inputs[1])
            .Where(shape => !nodes.Any(n => n.Inputs.Contains(shape) && !(n.OpType == "Reshape" && n.Outputs.Count == 1 && rewritten.ContainsKey(n.Outputs[0]))))
            .ToHashSet(StringComparer.Ordinal);
        var graphWriter = new ProtobufWriter(rowGraph.Length + 256);
        foreach (var field in graph)
        {
            if ((field.Number == GraphInitializer && unused.Contains(ProtobufReader.Fields(field.Payload).FirstOrDefault(p => p.Number == TensorName).Text ?? ""))
                || (field.Number == GraphInput && unused.Contains(Value.Parse(field.Payload).Name)))
                continue;
            if (field.Number == GraphNode && Node.Parse(field.Payload) is { OpType: "Reshape" } node && node.Outputs.Count == 1 && rewritten.ContainsKey(node.Outputs[0]))
            {
                graphWriter.WriteMessage(GraphNode, w =>
                {
                    w.WriteString(NodeInput, node.Inputs[0]);
                    w.WriteString(NodeOutput, node.Outputs[0]);
                    if (node.Name is { } name)
                        w.WriteString(NodeName, name);
                    w.WriteString(NodeOpType, "Identity");
                });
            }
            else if (field.Number == GraphOutput && Value.Parse(field.Payload) is var output && rewritten.ContainsKey(output.Name))
            {
                graphWriter.WriteMessage(GraphOutput, w => output.WriteWithBatchAxis(w, batchName));
            }
            else
            {
                graphWriter.WriteRaw(field.Encoded.Span);
            }
        }
        return WithGraph(rowGraph, graphWriter.ToArray());
    }

    /// <summary><paramref name="model"/> with its graph replaced by <paramref name="graph"/> (an encoded GraphProto), every other field as it was.</summary>
    internal static byte[] WithGraph(byte[] model, byte[] graph)
    {
        var modelWriter = new ProtobufWriter(graph.Length + 4096);
        foreach (var field in ProtobufReader.Fields(model))
        {
            if (field.Number == ModelGraph)
                modelWriter.WriteBytes(ModelGraph, graph);
            else
                modelWriter.WriteRaw(field.Encoded.Span);
        }
        return modelWriter.ToArray();
    }

    /// <summary>The graph reading <paramref name="inputName"/> where it read <paramref name="value"/>, without the nodes and initializers only the part before used.</summary>
    public static byte[] StartingAt(byte[] model, string value, string inputName) => Rewrite(model, (graph, writer) =>
    {
        var nodes = graph.Where(f => f.Number == GraphNode).Select(f => (Field: f, Node: Node.Parse(f.Payload))).ToList();
        string Renamed(string name) => name == value ? inputName : name;
        var needed = graph.Where(f => f.Number == GraphOutput).Select(f => Value.Parse(f.Payload).Name).ToHashSet(StringComparer.Ordinal);
        var kept = new HashSet<int>();
        for (var i = nodes.Count - 1; i >= 0; i--)
        {
            if (!nodes[i].Node.Outputs.Any(needed.Contains) || nodes[i].Node.Outputs.Contains(value))
                continue;
            kept.Add(i);
            foreach (var input in nodes[i].Node.Inputs)
                needed.Add(Renamed(input));
        }
        for (var i = 0; i < nodes.Count; i++)
        {
            if (!kept.Contains(i))
                continue;
            var fields = ProtobufReader.Fields(nodes[i].Field.Payload);
            writer.WriteMessage(GraphNode, node =>
            {
                foreach (var input in fields.Where(f => f.Number == NodeInput))
                    node.WriteString(NodeInput, Renamed(input.Text));
                foreach (var other in fields.Where(f => f.Number != NodeInput))
                    node.WriteRaw(other.Encoded.Span);
            });
        }
        foreach (var field in graph)
        {
            var drop = field.Number switch
            {
                GraphNode => true,
                GraphInitializer => !needed.Contains(ProtobufReader.Fields(field.Payload).FirstOrDefault(p => p.Number == TensorName).Text ?? ""),
                GraphInput => Value.Parse(field.Payload).Name is var name && name != inputName && !needed.Contains(name),
                _ => false,
            };
            if (!drop)
                writer.WriteRaw(field.Encoded.Span);
        }
    });

    /// <summary><paramref name="model"/> with its graph written anew by <paramref name="writeGraph"/> from the old graph's fields.</summary>
    internal static byte[] Rewrite(byte[] model, Action<List<ProtobufReader.Field>, ProtobufWriter> writeGraph)
    {
        var graphWriter = new ProtobufWriter(model.Length + 256);
        writeGraph(GraphFields(model), graphWriter);
        return WithGraph(model, graphWriter.ToArray());
    }

    internal sealed record Node(List<string> Inputs, List<string> Outputs, string? Name, string OpType)
    {
        public static Node Parse(ReadOnlyMemory<byte> payload)
        {
            var fields = ProtobufReader.Fields(payload);
            return new Node(
                fields.Where(f => f.Number == NodeInput).Select(f => f.Text).ToList(),
                fields.Where(f => f.Number == NodeOutput).Select(f => f.Text).ToList(),
                fields.Where(f => f.Number == NodeName).Select(f => f.Text).FirstOrDefault(),
                fields.Where(f => f.Number == NodeOpType).Select(f => f.Text).FirstOrDefault() ?? "");
        }
    }

    internal readonly record struct Dim(string? Symbolic, long Value, ReadOnlyMemory<byte> Encoded);

    // A graph input or output: its name, element type and dimensions (each kept as encoded).
    internal sealed record Value(string Name, ulong ElementType, List<Dim> Dims)
    {
        public static Value Parse(ReadOnlyMemory<byte> payload)
        {
            var fields = ProtobufReader.Fields(payload);
            var name = fields.FirstOrDefault(f => f.Number == ValueName).Text ?? "";
            var type = fields.FirstOrDefault(f => f.Number == ValueType);
            var tensor = type.Encoded.IsEmpty ? default : ProtobufReader.Fields(type.Payload).FirstOrDefault(f => f.Number == TypeTensor);
            var tensorFields = tensor.Encoded.IsEmpty ? [] : ProtobufReader.Fields(tensor.Payload);
            var elementType = tensorFields.FirstOrDefault(f => f.Number == TensorElementType).Varint;
            var shape = tensorFields.FirstOrDefault(f => f.Number == TensorShape);
            var dims = shape.Encoded.IsEmpty ? [] : ProtobufReader.Fields(shape.Payload).Where(f => f.Number == ShapeDim)
                .Select(f => ProtobufReader.Fields(f.Payload) is var parts
                    ? new Dim(parts.Where(d => d.Number == DimParam).Select(d => d.Text).FirstOrDefault(), (long)parts.FirstOrDefault(d => d.Number == DimValue).Varint, f.Encoded)
                    : default)
                .ToList();
            return new Value(name, elementType, dims);
        }

        public void WriteWithBatchAxis(ProtobufWriter writer, string batchName)
        {
            writer.WriteString(ValueName, Name);
            writer.WriteMessage(ValueType, type => type.WriteMessage(TypeTensor, tensor =>
            {
                tensor.WriteVarint(TensorElementType, (long)ElementType);
                tensor.WriteMessage(TensorShape, shape =>
                {
                    shape.WriteMessage(ShapeDim, dim => dim.WriteString(DimParam, batchName));
                    foreach (var dim in Dims)
                        shape.WriteRaw(dim.Encoded.Span);
                });
            }));
        }
    }
}
