/* A shared object without weft_plugin_entry. */
__attribute__((visibility("default"))) int not_a_weft_plugin(void);
__attribute__((visibility("default"))) int not_a_weft_plugin(void)
{
  return 42;
}
