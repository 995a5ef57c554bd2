import Testing
import MechanicIO

@Suite struct ModelAliasTests {
    @Test(arguments: [
        ("gpt2-small", "gpt2"), ("gpt2-medium", "gpt2-medium"), ("gpt2-large", "gpt2-large"), ("gpt2-xl", "gpt2-xl"),
        ("gpt2", "gpt2"), ("distilgpt2", "distilgpt2"),
        ("pythia-70m", "EleutherAI/pythia-70m"), ("pythia-160m", "EleutherAI/pythia-160m"),
        ("pythia-410m", "EleutherAI/pythia-410m"), ("pythia-1b", "EleutherAI/pythia-1b"),
        ("pythia-1.4b", "EleutherAI/pythia-1.4b"), ("pythia-2.8b", "EleutherAI/pythia-2.8b"),
        ("pythia-6.9b", "EleutherAI/pythia-6.9b"), ("pythia-12b", "EleutherAI/pythia-12b"),
        ("pythia-70m-deduped", "EleutherAI/pythia-70m-deduped"), ("pythia-12b-deduped", "EleutherAI/pythia-12b-deduped"),
        ("llama-2-7b", "meta-llama/Llama-2-7b-hf"), ("Llama-2-13b", "meta-llama/Llama-2-13b-hf"),
        ("llama-2-7b-chat", "meta-llama/Llama-2-7b-chat-hf"),
        ("mistral-7b", "mistralai/Mistral-7B-v0.1"), ("mistral-7b-instruct", "mistralai/Mistral-7B-Instruct-v0.1"),
        ("qwen2-0.5b", "Qwen/Qwen2-0.5B"), ("qwen2-1.5b", "Qwen/Qwen2-1.5B"),
        ("EleutherAI/pythia-70m", "EleutherAI/pythia-70m"), ("eleutherai/pythia-70m", "EleutherAI/pythia-70m"),
        ("GPT2-SMALL", "gpt2"),
    ])
    func transformerLensAliases(alias: String, repo: String) {
        #expect(ModelResolver.hubID(forAlias: alias) == repo)
    }

    @Test func unknownNamesHaveNoAlias() {
        #expect(ModelResolver.hubID(forAlias: "someone/new-model") == nil)
        #expect(ModelResolver.hubID(forAlias: "gpt3") == nil)
        // TransformerLens's llama-7b-hf is not on the hub, so it is not offered as one.
        #expect(ModelResolver.hubID(forAlias: "llama-7b") == nil)
    }

    @Test func tableMatchesTransformerLensSize() {
        let models = ModelResolver.knownModels
        #expect(models.count == 233)  // 237 official names minus 4 not hosted on the hub
        #expect(models.first?.hubID == "gpt2" && models.first?.aliases == ["gpt2-small"])
        #expect(Set(models.map(\.hubID)).count == models.count)
    }
}
