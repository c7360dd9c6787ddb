using EfficientViT.ML.IO;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// Writes an EfficientViT as an ONNX graph for inference (ONNX Runtime, ML.NET's ApplyOnnxModel, or
/// any ONNX engine). The graph is the BN-fused model whatever the module's state: every conv carries
/// its folded BatchNorm, the attention scale is folded into the query convs, and each attention
/// layer's relative-position bias is a constant.
/// </summary>
/// <remarks>
/// Inputs and outputs (batch dimension "batch" is dynamic):
/// <list type="bullet">
/// <item><c>input</c>: float32 (batch, 3, S, S) — normalized RGB, or pixels in [0, 255] with
/// <see cref="OnnxExportOptions.Preprocessing"/>; S is the model's image size or
/// <see cref="OnnxExportOptions.InputSize"/>.</item>
/// <item><c>features</c>: float32 (batch, EmbedDims[2]) — the pooled pre-head features.</item>
/// <item><c>logits</c>: float32 (batch, classes) — when the model has a head and
/// <see cref="OnnxExportOptions.IncludeLogits"/> (with distillation, the mean of both heads).</item>
/// </list>
/// </remarks>
/// <example>
/// <code>
/// using var loaded = EfficientVitCheckpoint.Load("efficientvit_m0.pth");
/// EfficientVitOnnxExporter.Export(loaded.Model, "efficientvit_m0.onnx");
/// </code>
/// </example>
public static class EfficientVitOnnxExporter
{
    /// <summary>Default name of the graph input.</summary>
    public const string DefaultInputName = "input";

    /// <summary>Default name of the pooled-features output.</summary>
    public const string DefaultFeaturesOutputName = "features";

    /// <summary>Default name of the logits output.</summary>
    public const string DefaultLogitsOutputName = "logits";

    /// <summary>Writes the ONNX model to <paramref name="path"/> atomically.</summary>
    public static void Export(EfficientVit model, string path, OnnxExportOptions? options = null)
    {
        // Built before the file is opened: the temporary file then exists only while the bytes are written.
        var bytes = ToBytes(model, options);
        AtomicFile.Write(path, stream => stream.Write(bytes));
    }

    /// <summary>The ONNX model as bytes (a serialized ModelProto).</summary>
    public static byte[] ToBytes(EfficientVit model, OnnxExportOptions? options = null)
    {
        options ??= new OnnxExportOptions();
        if (options.Int8 is not { } int8)
            return Build(model, options, graph => null).Bytes;
        if (int8.Calibration.VariantName != model.Config.VariantName)
            throw new ArgumentException(
                $"The int8 calibration was measured on EfficientViT-{int8.Calibration.VariantName}, not on this {model.Config.VariantName}.", nameof(options));
        var (bytes, points) = Build(model, options, graph => QdqPlacer.ForInt8(graph, int8));
        if (points.Count != int8.Calibration.Ranges.Count)
            throw new ArgumentException(
                $"The int8 calibration holds {int8.Calibration.Ranges.Count} activation ranges but the graph has {points.Count}: it was measured with another model or other export options.", nameof(options));
        return bytes;
    }

    /// <summary>
    /// The float graph with every activation the int8 graph may quantize also output, as "calibration_{k}" for
    /// the k-th, for <see cref="Int8Calibrator"/> to measure; and how many there are.
    /// </summary>
    internal static (byte[] Bytes, int PointCount) CalibrationGraph(EfficientVit model, OnnxExportOptions options)
    {
        var floatOptions = options.Copy();
        floatOptions.Int8 = null;
        var (bytes, points) = Build(model, floatOptions, QdqPlacer.ForCalibration, addPointOutputs: true);
        return (bytes, points.Count);
    }

    /// <summary>The quantizable convolutions of the graph, in the order <see cref="OnnxInt8Options.QuantizeConvolution"/> numbers them, described.</summary>
    internal static IReadOnlyList<string> QuantizableConvolutions(EfficientVit model, OnnxExportOptions options)
    {
        var floatOptions = options.Copy();
        floatOptions.Int8 = null;
        QdqPlacer? recorder = null;
        Build(model, floatOptions, graph => recorder = QdqPlacer.ForCalibration(graph));
        return recorder!.Convolutions;
    }

    /// <summary>Name of the k-th calibration output of <see cref="CalibrationGraph"/>.</summary>
    internal static string CalibrationOutputName(int point) => $"calibration_{point}";

    private static (byte[] Bytes, IReadOnlyList<(string Name, int Rank)> Points) Build(
        EfficientVit model, OnnxExportOptions options, Func<OnnxGraphBuilder, QdqPlacer?> placer, bool addPointOutputs = false)
    {
        if (options.Opset < 17)
            throw new ArgumentException($"Opset {options.Opset} is too old; EfficientViT export needs 17 or newer.", nameof(options));
        var config = model.Config;
        var inputSize = options.InputSize ?? config.ImageSize;
        if (inputSize < config.ImageSize)
            throw new ArgumentException($"InputSize {inputSize} is smaller than the model's image size {config.ImageSize}.", nameof(options));
        var preprocessing = options.Preprocessing;
        if (preprocessing is not null)
        {
            try
            {
                preprocessing.Validate();
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"Preprocessing: {e.Message}", nameof(options), e);
            }
        }
        if (options.ResizeInGraph && preprocessing is null)
            throw new ArgumentException("ResizeInGraph needs Preprocessing: the resize works on RGB pixels 0–255 and rounds to whole pixel values, as PIL does.", nameof(options));
        if (options.ResizeInGraph && preprocessing!.ImageSize != config.ImageSize)
            throw new ArgumentException($"ResizeInGraph: the preprocessing is for {preprocessing.ImageSize}x{preprocessing.ImageSize} images, but the model takes {config.ImageSize}x{config.ImageSize}.", nameof(options));
        var resizeSize = options.ResizeInGraph ? preprocessing!.ResizeSize : inputSize;
        if (resizeSize < config.ImageSize)
            throw new ArgumentException($"The preprocessing's resize side {resizeSize} is smaller than the model's image size {config.ImageSize}.", nameof(options));

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var graph = new OnnxGraphBuilder($"efficientvit_{config.VariantName.ToLowerInvariant()}");
        var qdq = placer(graph);
        var builder = new Emitter(graph, qdq);
        var x = new Activation(graph.AddInput(options.InputName, OnnxElementType.Float, "batch", 3, inputSize, inputSize), 3, inputSize, inputSize);

        if (resizeSize != inputSize)
            x = builder.ResizeAndCrop(x, resizeSize, config.ImageSize, preprocessing!.GraphInterpolation);
        if (x.Height > config.ImageSize)
            x = builder.CenterCrop(x, config.ImageSize);
        if (preprocessing is not null)
            x = builder.Normalize(x, preprocessing, subtractMean: !options.InputCentered);
        // As one sequence, so that each convolution and its ReLU are one unit (one QLinearConv in int8).
        x = builder.EmitSequence(model.PatchEmbedding.ToArray(), x);
        foreach (var stage in model.Stages)
            foreach (var module in stage)
                x = builder.Emit(module, x);

        var pooled = graph.AddNode("GlobalAveragePool", [builder.ChannelsFirst(x).Name]);
        var features = graph.AddNode("Flatten", [pooled], OnnxAttribute.Int("axis", 1));
        builder.Output(features, options.FeaturesOutputName, config.FeatureDim, options.DropBatchAxis);

        if (model.Head is { } head && (options.IncludeLogits || options.ProbabilitiesOutputName is not null || options.PredictedClassOutputName is not null))
        {
            var (weight, bias) = head.FusedWeightAndBias();
            if (model.DistillationHead is { } distillationHead)
            {
                // The mean of two linear heads is one linear head with the mean weights.
                var (distillationWeight, distillationBias) = distillationHead.FusedWeightAndBias();
                (weight, bias) = (weight.Plus(distillationWeight).DividedBy(2), bias.Plus(distillationBias).DividedBy(2));
            }
            var logits = graph.AddNode("Gemm", [features, graph.AddInitializer("head.weight", weight), graph.AddInitializer("head.bias", bias)],
                OnnxAttribute.Int("transB", 1));
            if (options.IncludeLogits)
                builder.Output(logits, options.LogitsOutputName, config.NumClasses, options.DropBatchAxis);
            if (options.ProbabilitiesOutputName is { } probabilities)
                builder.Output(graph.AddNode("Softmax", [logits], OnnxAttribute.Int("axis", 1)), probabilities, config.NumClasses, options.DropBatchAxis);
            if (options.PredictedClassOutputName is { } predicted)
            {
                var names = options.ClassNames ?? throw new ArgumentException("PredictedClassOutputName needs ClassNames.", nameof(options));
                if (names.Count != config.NumClasses)
                    throw new ArgumentException($"{names.Count} class names were given for {config.NumClasses} classes.", nameof(options));
                var index = graph.AddNode("ArgMax", [logits], OnnxAttribute.Int("axis", 1), OnnxAttribute.Int("keepdims", 0));
                var name = graph.AddNode("Gather", [graph.AddInitializer("class_names", names.ToArray(), names.Count), index], OnnxAttribute.Int("axis", 0));
                builder.Output(name, predicted, null, options.DropBatchAxis, OnnxElementType.String);
            }
        }

        graph.DocString = $"EfficientViT-{config.VariantName} ({config.ImageSize}x{config.ImageSize}), BatchNorm fused. " +
            $"Input '{options.InputName}': float32 (batch, 3, {inputSize}, {inputSize}) " +
            (preprocessing is not null ? "RGB pixels in [0, 255]" : "normalized RGB") +
            $". Outputs '{options.FeaturesOutputName}' (batch, {config.FeatureDim})" +
            (options.IncludeLogits && model.Head is not null ? $" and '{options.LogitsOutputName}' (batch, {config.NumClasses})." : ".") +
            (options.DropBatchAxis ? " Outputs have no batch axis: one image per call." : "");
        graph.AddMetadata("efficientvit.variant", config.VariantName);
        graph.AddMetadata("efficientvit.image_size", config.ImageSize.ToString());
        graph.AddMetadata("efficientvit.input_size", inputSize.ToString());
        graph.AddMetadata("efficientvit.normalization_in_graph", preprocessing is not null ? "true" : "false");
        if (qdq is { Quantizing: true })
        {
            var int8 = options.Int8!;
            graph.AddMetadata("efficientvit.quantization", $"int8 (QDQ, {int8.Calibration.Method} calibration, weights of {(int8.FullRangeWeights ? "eight bits, ±127" : "seven bits, ±63")})");
            if (int8.Quality is { } quality)
                graph.AddMetadata("efficientvit.int8_quality", quality);
        }
        var points = qdq?.Points ?? [];
        if (addPointOutputs)
        {
            for (var k = 0; k < points.Count; k++)
            {
                var (name, rank) = points[k];
                var output = graph.AddNode("Identity", [name], CalibrationOutputName(k));
                graph.AddOutput(output, OnnxElementType.Float, Enumerable.Range(0, rank).Select(d => (OnnxDimension)$"{output}_d{d}").ToArray());
            }
        }
        // A quantized activation gets a DequantizeLinear for the stream's layout when it is made, unread when
        // its only consumer is a convolution (which reads channels-first).
        graph.RemoveUnusedNodes();
        return (graph.ToBytes(options.Opset), points);
    }

    /// <summary>
    /// A value of the graph with its (fixed) channels and spatial size; the batch is dynamic. Laid out
    /// (batch, C, H, W), or (batch, H, W, C) when <paramref name="ChannelsLast"/>.
    /// </summary>
    private readonly record struct Activation(string Name, long Channels, long Height, long Width, bool ChannelsLast = false);

    /// <summary>Emits the ONNX nodes of each module kind.</summary>
    /// <remarks>
    /// In the int8 graph the activations between convolutions are channels-last, the layout ONNX Runtime runs
    /// its int8 convolutions in: each convolution reads its input through a transpose to channels-first and
    /// writes its output through one back, both between the QuantizeLinear/DequantizeLinear pair, and ONNX
    /// Runtime cancels them against the transposes it puts around each int8 convolution. Left channels-first,
    /// the attention's splits and reshapes and the residual additions keep those transposes in the graph.
    /// </remarks>
    private sealed class Emitter(OnnxGraphBuilder graph, QdqPlacer? qdq)
    {
        private readonly bool channelsLast = qdq is { Quantizing: true };

        /// <summary><paramref name="x"/> laid out channels-first, as the ONNX operators other than the elementwise ones need it.</summary>
        public Activation ChannelsFirst(Activation x) =>
            x.ChannelsLast ? x with { Name = Transposed(x.Name, 0, 3, 1, 2), ChannelsLast = false } : x;

        private string Transposed(string value, params long[] order) => graph.AddNode("Transpose", [value], OnnxAttribute.Ints("perm", order));

        public Activation Emit(nn.Module<Tensor, Tensor> module, Activation x) => module switch
        {
            Conv2dBN convBn => Conv(convBn, x),
            ReLU => x with { Name = graph.AddNode("Relu", [x.Name]) },
            Residual residual => ResidualNode(residual, x),
            Sequential sequential => EmitSequence(sequential.children().Cast<nn.Module<Tensor, Tensor>>().ToArray(), x),
            FeedForward ffn => Conv(ffn.Pw2, Conv(ffn.Pw1, x, relu: true)),
            PatchMerging merging => Conv(merging.Conv3, SqueezeExcite(merging.Se, Conv(merging.Conv2, Conv(merging.Conv1, x, relu: true), relu: true))),
            EfficientVitBlock block => block.Layers.Aggregate(x, (current, layer) => Emit(layer, current)),
            LocalWindowAttention attention => WindowAttention(attention, x),
            _ => throw new NotSupportedException($"ONNX export has no rule for module {module.GetType().Name}."),
        };

        /// <summary>
        /// x + branch(x). In int8 with <see cref="OnnxInt8Options.QuantizeResiduals"/>, the skip path reads the
        /// same dequantized x as the branch, so that the sum's only consumer is the next QuantizeLinear: ONNX
        /// Runtime then adds in uint8 (QLinearAdd) and the residual stream stays int8 between convolutions.
        /// </summary>
        private Activation ResidualNode(Residual residual, Activation x)
        {
            // Numbered as a point whatever the options, so that one calibration serves every choice.
            var input = qdq is null ? x : x with { Name = qdq.Activation(x.Name, 4, qdq.QuantizeResiduals, x.ChannelsLast) };
            return x with { Name = graph.AddNode("Add", [input.Name, Emit(residual.Branch, input).Name]) };
        }

        public Activation EmitSequence(nn.Module<Tensor, Tensor>[] modules, Activation x)
        {
            for (var i = 0; i < modules.Length; i++)
            {
                // A convolution and the ReLU after it are one unit, so that in int8 the ReLU's output is
                // what gets quantized (ONNX Runtime then drops the ReLU into QLinearConv).
                if (modules[i] is Conv2dBN conv && i + 1 < modules.Length && modules[i + 1] is ReLU)
                {
                    x = Conv(conv, x, relu: true);
                    i++;
                }
                else
                {
                    x = Emit(modules[i], x);
                }
            }
            return x;
        }

        /// <summary>Names <paramref name="value"/> as a graph output, without its batch axis when asked (one image per call).</summary>
        public void Output(string value, string name, long? width, bool dropBatchAxis, OnnxElementType type = OnnxElementType.Float)
        {
            if (dropBatchAxis)
            {
                graph.AddNode("Reshape", [value, width is { } w ? Ints("one_item", w) : graph.AddInitializer("scalar_shape", Array.Empty<long>(), 0)], name);
                graph.AddOutput(name, type, width is { } size ? [size] : []);
            }
            else
            {
                graph.AddNode("Identity", [value], name);
                graph.AddOutput(name, type, width is { } size ? ["batch", size] : ["batch"]);
            }
        }

        public Activation CenterCrop(Activation x, int size)
        {
            var top = (x.Height - size) / 2;
            var left = (x.Width - size) / 2;
            var cropped = graph.AddNode("Slice", [x.Name, Ints("crop_starts", top, left), Ints("crop_ends", top + size, left + size), Ints("crop_axes", 2, 3)]);
            return new Activation(cropped, x.Channels, size, size);
        }

        /// <summary>Upsampling of pixels 0–255 to <paramref name="size"/> with <paramref name="filter"/>, followed by a center crop to <paramref name="cropSize"/>.</summary>
        public Activation ResizeAndCrop(Activation x, int size, int cropSize, ImageInterpolation filter)
        {
            // Each output pixel is a fixed weighted sum of at most four input pixels per axis. When the
            // weights repeat with the resize ratio (224 -> 256: every 8 outputs read 7 inputs further on)
            // each axis is a strided convolution with one output channel per phase: a few multiply-adds per
            // pixel. Otherwise each axis is a product with a constant (crop × input) matrix T. ONNX
            // Runtime's cubic Resize runs an order of magnitude slower than either. As PIL does for 8-bit
            // images, columns go first and each pass is rounded to whole pixel values in [0, 255].
            if (x.Height == x.Width && ResampleWeights.AsPolyphase(filter, (int)x.Height, size, cropSize) is { } polyphase)
                return PolyphaseResize(x, polyphase, cropSize);
            var taps = ResampleWeights.Matrix(filter, (int)x.Height, size, cropSize);
            var rows = graph.AddInitializer("resize_rows", taps, cropSize, x.Height);
            var columns = graph.AddInitializer("resize_columns", Transpose(taps, cropSize, (int)x.Width), x.Width, cropSize);
            var resizedColumns = RoundToPixels(graph.AddNode("Add", [graph.AddNode("MatMul", [x.Name, columns]), Half()]));
            var resized = RoundToPixels(graph.AddNode("Add", [graph.AddNode("MatMul", [rows, resizedColumns]), Half()]));
            return new Activation(resized, x.Channels, cropSize, cropSize);
        }

        private Activation PolyphaseResize(Activation x, ResampleWeights.Polyphase filter, int cropSize)
        {
            var (stride, phases, length) = (filter.Stride, filter.Phases, filter.Length);
            var periods = cropSize / phases;
            var span = stride * (periods - 1) + length;
            var channels = x.Channels;
            // The convolutions' bias of 0.5 and a Floor round half up, as PIL does. The rounding follows the
            // interleaving: ONNX Runtime folds a transpose right after a convolution into the convolution's
            // output reorder, and runs a separate one many times slower.
            var bias = graph.AddInitializer("resize_bias", Enumerable.Repeat(0.5f, phases).ToArray(), phases);
            // Columns: (N·C, 1, H, W) -> conv (phases, 1, 1, length), stride (1, p) -> (N·C, phases, H, periods),
            // then the phases interleave into columns: (N·C, H, periods, phases) -> (N·C, 1, H, crop).
            var planes = graph.AddNode("Reshape", [x.Name, Ints("resize_planes", -1, 1, x.Height, x.Width)]);
            var columnsIn = graph.AddNode("Slice", [planes, Ints("resize_columns_start", filter.Start), Ints("resize_columns_end", filter.Start + span), Ints("resize_columns_axis", 3)]);
            var columnPhases = graph.AddNode("Conv", [columnsIn, graph.AddInitializer("resize_columns_kernel", filter.Kernel, phases, 1, 1, length), bias],
                OnnxAttribute.Ints("strides", 1, stride));
            var columnsInterleaved = graph.AddNode("Transpose", [columnPhases], OnnxAttribute.Ints("perm", 0, 2, 3, 1));
            var columnsDone = RoundToPixels(graph.AddNode("Reshape", [columnsInterleaved, Ints("resize_columns_shape", -1, 1, x.Height, cropSize)]));
            // Rows the same way along the third axis: (N·C, phases, periods, crop) -> (N·C, periods, phases, crop).
            var rowsIn = graph.AddNode("Slice", [columnsDone, Ints("resize_rows_start", filter.Start), Ints("resize_rows_end", filter.Start + span), Ints("resize_rows_axis", 2)]);
            var rowPhases = graph.AddNode("Conv", [rowsIn, graph.AddInitializer("resize_rows_kernel", filter.Kernel, phases, 1, length, 1), bias],
                OnnxAttribute.Ints("strides", stride, 1));
            var rowsInterleaved = graph.AddNode("Transpose", [rowPhases], OnnxAttribute.Ints("perm", 0, 2, 1, 3));
            var resized = RoundToPixels(graph.AddNode("Reshape", [rowsInterleaved, Ints("resize_output_shape", -1, channels, cropSize, cropSize)]));
            return new Activation(resized, channels, cropSize, cropSize);
        }

        private string? half, pixelMin, pixelMax;

        private string Half() => half ??= graph.AddInitializer("resize_half", [0.5f]);

        // Floor of (value + 0.5), clipped to the pixel range.
        private string RoundToPixels(string halfAdded) =>
            graph.AddNode("Clip", [graph.AddNode("Floor", [halfAdded]),
                pixelMin ??= graph.AddInitializer("pixel_min", [0f]), pixelMax ??= graph.AddInitializer("pixel_max", [255f])]);

        private static float[] Transpose(float[] matrix, int rows, int columns)
        {
            var result = new float[matrix.Length];
            for (var r = 0; r < rows; r++)
                for (var c = 0; c < columns; c++)
                    result[c * rows + r] = matrix[r * columns + c];
            return result;
        }

        /// <summary>Per-input-channel factors the next convolution folds into its weights (the normalization's 1/std).</summary>
        private float[]? pendingInputScale;

        public Activation Normalize(Activation x, ImagePreprocessing preprocessing, bool subtractMean)
        {
            // (x/255 − mean)/std = (x − 255·mean) · 1/(255·std). The subtraction stays in the graph; the
            // factor goes into the first convolution's weights. That is exact, padding included: zeros padded
            // around x − 255·mean are zeros of the normalized image.
            pendingInputScale = preprocessing.Std.Select(s => 1f / (255f * s)).ToArray();
            return subtractMean
                ? x with { Name = graph.AddNode("Sub", [x.Name, graph.AddInitializer("normalize_mean", preprocessing.PixelMean, 1, 3, 1, 1)]) }
                : x;
        }

        private Activation Relu(Activation x) => x with { Name = graph.AddNode("Relu", [x.Name]) };

        private Activation Conv(Conv2dBN convBn, Activation x, double scale = 1.0, bool relu = false)
        {
            var (weight, bias) = convBn.FusedWeightAndBias();
            if (scale != 1.0)
                (weight, bias) = (weight.Times(scale), bias.Times(scale));
            if (pendingInputScale is { } inputScale)
            {
                if (convBn.Groups != 1 || weight.shape[1] != inputScale.Length)
                    throw new InvalidOperationException("The normalization must be followed by a dense convolution over the RGB channels.");
                weight = weight * tensor(inputScale).view(1, inputScale.Length, 1, 1);
                pendingInputScale = null;
            }
            return ConvNode(x, weight, bias, convBn.KernelSize, convBn.Stride, convBn.Padding, convBn.Groups, relu);
        }

        /// <summary>
        /// A convolution, with the ReLU after it when asked. In int8 (when <paramref name="quantizable"/>) its
        /// input and its (ReLU's) output get QDQ pairs, its weights are int8 and its bias int32: the pattern
        /// ONNX Runtime turns into one QLinearConv.
        /// </summary>
        private Activation ConvNode(Activation x, Tensor weight, Tensor bias, long kernel, long stride, long padding, long groups,
            bool relu = false, bool quantizable = true)
        {
            var points = qdq is not null && quantizable;
            var depthwise = groups > 1 && groups == x.Channels;
            var quantize = points && qdq!.Convolution($"{x.Channels}->{weight.shape[0]} {kernel}x{kernel}/{stride}{(depthwise ? " dw" : "")} at {x.Height}x{x.Width}")
                && (!depthwise || qdq!.QuantizeDepthwise);
            var quantizeActivations = quantize && qdq!.QuantizeActivations;
            var input = points ? qdq!.Activation(x.Name, 4, quantizeActivations, x.ChannelsLast, readChannelsLast: false) : ChannelsFirst(x).Name;
            string weightName, biasName;
            if (quantize && qdq!.Quantizing && qdq.QuantizeWeights)
            {
                (weightName, var weightScales, var weightError) = qdq.Weight(weight);
                var biasValues = QdqPlacer.Floats(bias);
                if (qdq.CorrectsBias)
                    biasValues = qdq.CorrectedBias(biasValues, weightError, (int)x.Channels, (int)groups, input);
                biasName = quantizeActivations ? qdq.Bias(biasValues, qdq.ScaleOf(input), weightScales) : graph.AddInitializer("conv.bias", biasValues, biasValues.Length);
            }
            else
            {
                (weightName, biasName) = (graph.AddInitializer("conv.weight", weight), graph.AddInitializer("conv.bias", bias));
            }
            var output = graph.AddNode("Conv", [input, weightName, biasName],
                OnnxAttribute.Ints("kernel_shape", kernel, kernel),
                OnnxAttribute.Ints("strides", stride, stride),
                OnnxAttribute.Ints("pads", padding, padding, padding, padding),
                OnnxAttribute.Int("group", groups));
            if (relu)
                output = graph.AddNode("Relu", [output]);
            // The network's convolutions write the stream's layout; the squeeze-and-excitation ones keep their input's.
            var outputChannelsLast = quantizable ? channelsLast : x.ChannelsLast;
            if (points)
                output = qdq!.Activation(output, 4, quantizeActivations, channelsLast: false, readChannelsLast: outputChannelsLast);
            else if (outputChannelsLast)
                output = Transposed(output, 0, 2, 3, 1);
            var height = (x.Height + 2 * padding - kernel) / stride + 1;
            var width = (x.Width + 2 * padding - kernel) / stride + 1;
            return new Activation(output, weight.shape[0], height, width, outputChannelsLast);
        }

        private Activation SqueezeExcite(SqueezeExcite se, Activation x)
        {
            var squeezed = new Activation(graph.AddNode("GlobalAveragePool", [ChannelsFirst(x).Name]), x.Channels, 1, 1);
            // Float: one pixel per image is nothing to speed up, and the sigmoid gate scales whole channels.
            var reduced = ConvNode(squeezed, se.Fc1.weight, se.Fc1.bias!, 1, 1, 0, 1, relu: true, quantizable: false);
            var expanded = ConvNode(reduced, se.Fc2.weight, se.Fc2.bias!, 1, 1, 0, 1, quantizable: false);
            var gate = graph.AddNode("Sigmoid", [ChannelsFirst(expanded).Name]);
            return x with { Name = graph.AddNode("Mul", [x.Name, x.ChannelsLast ? Transposed(gate, 0, 2, 3, 1) : gate]) };
        }

        private Activation WindowAttention(LocalWindowAttention attention, Activation x)
        {
            var window = attention.WindowResolution;
            if (x.Height <= window && x.Width <= window)
                return CascadedAttention(attention.Attention, x);

            // Pad bottom/right to whole windows, fold the windows into the batch, attend, unfold, crop.
            var padBottom = (window - x.Height % window) % window;
            var padRight = (window - x.Width % window) % window;
            var padded = x;
            if (padBottom > 0 || padRight > 0)
            {
                var pads = x.ChannelsLast
                    ? Ints("window_pads_last", 0, 0, 0, 0, 0, padBottom, padRight, 0)
                    : Ints("window_pads", 0, 0, 0, 0, 0, 0, padBottom, padRight);
                padded = x with { Name = graph.AddNode("Pad", [x.Name, pads]), Height = x.Height + padBottom, Width = x.Width + padRight };
            }
            var (rows, cols, channels) = (padded.Height / window, padded.Width / window, x.Channels);
            if (x.ChannelsLast)
                return WindowAttentionChannelsLast(attention, x, padded, rows, cols);
            var tiled = graph.AddNode("Reshape", [padded.Name, Ints("window_tiles", -1, channels, rows, window, cols, window)]);
            var grouped = graph.AddNode("Transpose", [tiled], OnnxAttribute.Ints("perm", 0, 2, 4, 1, 3, 5));
            var windows = graph.AddNode("Reshape", [grouped, Ints("window_batch", -1, channels, window, window)]);

            var attended = CascadedAttention(attention.Attention, new Activation(windows, channels, window, window));

            var ungrouped = graph.AddNode("Reshape", [attended.Name, Ints("window_grid", -1, rows, cols, channels, window, window)]);
            var untiled = graph.AddNode("Transpose", [ungrouped], OnnxAttribute.Ints("perm", 0, 3, 1, 4, 2, 5));
            var merged = new Activation(graph.AddNode("Reshape", [untiled, Ints("window_merge", -1, channels, padded.Height, padded.Width)]),
                channels, padded.Height, padded.Width);
            return Crop(merged, x);
        }

        private Activation WindowAttentionChannelsLast(LocalWindowAttention attention, Activation x, Activation padded, long rows, long cols)
        {
            var (window, channels) = (attention.WindowResolution, x.Channels);
            var tiled = graph.AddNode("Reshape", [padded.Name, Ints("window_tiles_last", -1, rows, window, cols, window, channels)]);
            var grouped = Transposed(tiled, 0, 1, 3, 2, 4, 5);
            var windows = graph.AddNode("Reshape", [grouped, Ints("window_batch_last", -1, window, window, channels)]);

            var attended = CascadedAttention(attention.Attention, new Activation(windows, channels, window, window, ChannelsLast: true));

            var ungrouped = graph.AddNode("Reshape", [attended.Name, Ints("window_grid_last", -1, rows, cols, window, window, channels)]);
            var untiled = Transposed(ungrouped, 0, 1, 3, 2, 4, 5);
            var merged = new Activation(graph.AddNode("Reshape", [untiled, Ints("window_merge_last", -1, padded.Height, padded.Width, channels)]),
                channels, padded.Height, padded.Width, ChannelsLast: true);
            return Crop(merged, x);
        }

        /// <summary><paramref name="merged"/> cut back to <paramref name="x"/>'s size after padding to whole windows.</summary>
        private Activation Crop(Activation merged, Activation x)
        {
            if (merged.Height == x.Height && merged.Width == x.Width)
                return merged;
            var axes = x.ChannelsLast ? Ints("window_crop_axes_last", 1, 2) : Ints("window_crop_axes", 2, 3);
            var cropped = graph.AddNode("Slice", [merged.Name, Ints("window_crop_starts", 0, 0), Ints("window_crop_ends", x.Height, x.Width), axes]);
            return x with { Name = cropped };
        }

        private Activation CascadedAttention(CascadedGroupAttention attention, Activation x)
        {
            if (x.ChannelsLast)
                return CascadedAttentionOverTokens(attention, x);
            var (heads, keyDim, valueDim) = (attention.NumHeads, attention.KeyDim, attention.ValueDim);
            var chunkSize = x.Channels / heads;
            var chunks = graph.AddNode("Split", [x.Name, Ints("head_chunks", Enumerable.Repeat(chunkSize, heads).ToArray())], heads, OnnxAttribute.Int("axis", 1));
            var biases = attention.GatherBiases();
            var headOutputs = new string[heads];
            var feature = new Activation(chunks[0], chunkSize, x.Height, x.Width);
            for (var i = 0; i < heads; i++)
            {
                if (i > 0)
                    feature = feature with { Name = graph.AddNode("Add", [feature.Name, chunks[i]]), Channels = chunkSize };
                var qkv = Conv(attention.Qkvs[i], feature);
                var parts = graph.AddNode("Split", [qkv.Name, Ints("qkv_split", keyDim, keyDim, valueDim)], 3, OnnxAttribute.Int("axis", 1));
                // The softmax scale is folded into the query conv: (s·q)ᵀk = s·qᵀk.
                var q = Conv(attention.Dws[i], new Activation(parts[0], keyDim, x.Height, x.Width), attention.Scale);
                var queries = graph.AddNode("Reshape", [q.Name, Ints("flatten_keys", 0, keyDim, -1)]);
                var keys = graph.AddNode("Reshape", [parts[1], Ints("flatten_keys", 0, keyDim, -1)]);
                var values = graph.AddNode("Reshape", [parts[2], Ints("flatten_values", 0, valueDim, -1)]);

                // Scores laid out (key, query) so that values·scores needs no second transpose.
                var keysFirst = graph.AddNode("Transpose", [keys], OnnxAttribute.Ints("perm", 0, 2, 1));
                var scores = graph.AddNode("MatMul", [MatMulInput(keysFirst), MatMulInput(queries)]);
                var biased = graph.AddNode("Add", [scores, graph.AddInitializer("attention_bias", biases[i].t().contiguous())]);
                var weights = graph.AddNode("Softmax", [biased], OnnxAttribute.Int("axis", 1));
                // The products' outputs stay float: the bias and softmax follow, and ONNX Runtime's
                // MatMulIntegerToFloat takes int8 inputs with a float output.
                var attended = graph.AddNode("MatMul", [MatMulInput(values), MatMulInput(weights)]);
                var output = graph.AddNode("Reshape", [attended, Ints("head_shape", 0, valueDim, x.Height, x.Width)]);
                headOutputs[i] = output;
                feature = new Activation(output, valueDim, x.Height, x.Width);
            }
            var concatenated = new Activation(graph.AddNode("Concat", headOutputs, OnnxAttribute.Int("axis", 1)), valueDim * heads, x.Height, x.Width);
            return Conv(attention.Projection, Relu(concatenated));
        }

        /// <summary>
        /// The cascaded attention of the int8 graph, computed over tokens (batch, H·W, channels). ONNX Runtime
        /// runs its int8 convolutions channels-last and puts a transpose back to channels-first after each;
        /// here every convolution output is read through an explicit channels-last transpose, which cancels
        /// that one, and every convolution input through a channels-first one, which cancels the transpose
        /// ONNX Runtime puts before it. The heads' products then need no layout changes of their own.
        /// Activations are numbered in the same order as in <see cref="CascadedAttention"/>'s float form, so one
        /// calibration serves both.
        /// </summary>
        private Activation CascadedAttentionOverTokens(CascadedGroupAttention attention, Activation x)
        {
            var (heads, keyDim, valueDim) = (attention.NumHeads, attention.KeyDim, attention.ValueDim);
            var chunkSize = x.Channels / heads;
            var chunks = graph.AddNode("Split", [x.Name, Ints("head_chunks", Enumerable.Repeat(chunkSize, heads).ToArray())], heads, OnnxAttribute.Int("axis", 3));
            var biases = attention.GatherBiases();
            var headOutputs = new string[heads];
            var feature = chunks[0];
            for (var i = 0; i < heads; i++)
            {
                if (i > 0)
                    feature = graph.AddNode("Add", [headOutputs[i - 1], chunks[i]]);
                var qkv = Conv(attention.Qkvs[i], new Activation(feature, chunkSize, x.Height, x.Width, ChannelsLast: true));
                var parts = graph.AddNode("Split", [qkv.Name, Ints("qkv_split", keyDim, keyDim, valueDim)], 3, OnnxAttribute.Int("axis", 3));
                // Every part quantized as the whole is, so that ONNX Runtime splits the uint8 values: the
                // queries' convolution then reads them as they are, and only keys and values are dequantized.
                var queryPart = qdq!.ActivationLike(parts[0], like: qkv.Name, channelsLast: true);
                // The softmax scale is folded into the query conv: (s·q)·kᵀ = s·q·kᵀ.
                var q = Conv(attention.Dws[i], qkv with { Name = queryPart, Channels = keyDim }, attention.Scale);
                var queries = Tokens(q.Name, keyDim);
                var keys = Tokens(qdq.QuantizedLike(parts[1], like: qkv.Name), keyDim);
                var values = Tokens(qdq.QuantizedLike(parts[2], like: qkv.Name), valueDim);

                // ONNX Runtime fuses this transpose into the product (FusedMatMul with transB).
                var keysLast = MatMulInput(Transposed(keys, 0, 2, 1));
                var scores = graph.AddNode("MatMul", [MatMulInput(queries), keysLast]);
                var biased = graph.AddNode("Add", [scores, graph.AddInitializer("attention_bias", biases[i].contiguous())]);
                var valuesIn = MatMulInput(values);
                var weights = graph.AddNode("Softmax", [biased], OnnxAttribute.Int("axis", 2));
                var attended = graph.AddNode("MatMul", [MatMulInput(weights), valuesIn]);
                headOutputs[i] = graph.AddNode("Reshape", [attended, Ints("head_shape_last", 0, x.Height, x.Width, valueDim)]);
            }
            var concatenated = graph.AddNode("Concat", headOutputs, OnnxAttribute.Int("axis", 3));
            return Conv(attention.Projection, Relu(x with { Name = concatenated, Channels = valueDim * heads }));
        }

        /// <summary>(batch, H, W, C) as tokens (batch, H·W, C).</summary>
        private string Tokens(string value, long channels) => graph.AddNode("Reshape", [value, Ints("tokens", 0, -1, channels)]);

        private string MatMulInput(string value) =>
            qdq is null ? value : qdq.Activation(value, 3, qdq.QuantizeAttentionMatMuls);

        private readonly Dictionary<string, string> intConstants = new();

        // Shapes and split sizes repeat across heads and blocks: one initializer per distinct value list.
        private string Ints(string nameHint, params long[] values)
        {
            var key = string.Join(",", values);
            if (!intConstants.TryGetValue(key, out var name))
            {
                name = graph.AddInitializer(nameHint, values, values.Length);
                intConstants.Add(key, name);
            }
            return name;
        }
    }
}
